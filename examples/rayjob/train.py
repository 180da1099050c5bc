"""Distributed data-parallel training of a small ranking model with Ray Train and PyTorch.

Runs as the example RayJob's entrypoint. Each worker trains on its shard of a synthetic click
dataset on one GPU; Ray Train wraps the model in DistributedDataParallel and keeps checkpoints under
the team's artifacts prefix (ARTIFACTS_URI); rank 0 logs parameters and metrics to the team's MLflow
tracking server (MLFLOW_TRACKING_URI, an ARN the sagemaker-mlflow plugin resolves). Both variables
come from the namespace's "mlplatform" ConfigMap that the platform writes.

Heavy imports happen inside the functions, so `python train.py --help` works without Ray or torch.
"""

from __future__ import annotations

import argparse
import os


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="Ray Train workers, one GPU each")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--rows", type=int, default=200_000, help="synthetic examples per epoch")
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--cpu", action="store_true", help="train without GPUs (for a smoke test)")
    return parser.parse_args(argv)


def train_loop(config: dict) -> None:
    """One worker's loop: a shard of synthetic data, DDP through Ray Train, a checkpoint per epoch."""
    import tempfile

    import torch
    from ray import train
    from ray.train.torch import prepare_data_loader, prepare_model

    torch.manual_seed(0)
    n, d = config["rows"], config["features"]
    weights = torch.randn(d)
    x = torch.randn(n, d)
    y = (x @ weights + 0.1 * torch.randn(n) > 0).float()
    data = torch.utils.data.TensorDataset(x, y)
    loader = prepare_data_loader(torch.utils.data.DataLoader(data, batch_size=config["batch_size"], shuffle=True))
    model = prepare_model(torch.nn.Sequential(torch.nn.Linear(d, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1)))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(config["epochs"]):
        total, correct, seen = 0.0, 0, 0
        for features, labels in loader:
            optimizer.zero_grad()
            logits = model(features).squeeze(-1)
            loss = loss_fn(logits, labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            correct += ((logits > 0).float() == labels).sum().item()
            seen += len(labels)
        metrics = {"epoch": epoch, "loss": total / seen, "accuracy": correct / seen}
        with tempfile.TemporaryDirectory() as tmp:
            if train.get_context().get_world_rank() == 0:
                torch.save(model.state_dict(), os.path.join(tmp, "model.pt"))
                train.report(metrics, checkpoint=train.Checkpoint.from_directory(tmp))
            else:
                train.report(metrics)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import mlflow
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    config = {k: getattr(args, k) for k in ("epochs", "batch_size", "rows", "features", "lr")}
    trainer = TorchTrainer(
        train_loop,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=args.workers, use_gpu=not args.cpu),
        # Checkpoints go to the team's prefix of the artifacts bucket (the team's role may write there).
        run_config=RunConfig(name="ranker-ddp", storage_path=os.environ.get("ARTIFACTS_URI") or None),
    )
    result = trainer.fit()
    if os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_experiment("ranker-ddp")
        with mlflow.start_run():
            mlflow.log_params({**config, "workers": args.workers})
            mlflow.log_metrics({k: v for k, v in result.metrics.items() if isinstance(v, int | float)})
    print(f"finished: {result.metrics}")
    return result.metrics


if __name__ == "__main__":
    main()
