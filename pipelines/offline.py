"""Run a Pulumi project's program for a stack under Pulumi's mock runtime and record a Plan.

The project is a directory with ``Pulumi.yaml`` and ``stacks/``; its program is the ``main`` of
``Pulumi.yaml`` (the platform: ``infra/``; the account bootstrap: ``bootstrap/`` with ``main: .``).

No Pulumi CLI, provider plugin or AWS credentials are needed. The recording monitor keeps every
RegisterResourceRequest, so options the public mocks API hides (protect, retainOnDelete, parent,
provider, dependencies, ignoreChanges) are in the Plan. It builds on internal SDK API
(``MockMonitor``), which is why pyproject.toml pins the pulumi version.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import runpy
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime import config as rt_config
from pulumi.runtime import mocks as rt_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as rt_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from infra import stackfile, yamlfile
from pipelines.mocks import DEFAULT_LOCATION, digest, physical_state, provider_location
from pipelines.plan import Plan, Resource

REPO_ROOT = Path(__file__).resolve().parents[1]
PROGRAM = REPO_ROOT / "infra" / "__main__.py"  # the platform's program (REPO_ROOT's Pulumi.yaml `main`)
MASK = "[secret]"


class UnknownStackError(Exception):
    pass


class StackFileError(UnknownStackError):
    """A stack or project file that is not the YAML mapping Pulumi expects."""


def _yaml_mapping(path: Path, where: str) -> dict:
    try:
        data = yamlfile.load(path.read_text()) or {}
    except yamlfile.YamlFileError as err:
        raise StackFileError(f"{where} is not valid YAML {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("config", {}) or {}, dict):
        raise StackFileError(f"{where} must be a mapping with a `config:` mapping of settings")
    return data


@dataclass(frozen=True)
class StackConfig:
    """A stack's configuration as the engine would pass it: every value a string."""

    project: str
    stack: str
    values: Mapping[str, str]
    secret_keys: frozenset[str] = frozenset()


def project_file(root: Path) -> dict:
    if not (root / "Pulumi.yaml").is_file():
        raise StackFileError(f"{root} is not a Pulumi project: it has no Pulumi.yaml")
    project = _yaml_mapping(root / "Pulumi.yaml", "Pulumi.yaml")
    if not isinstance(project.get("name"), str):
        raise StackFileError("Pulumi.yaml must have a `name:`")
    return project


def program_of(root: Path = REPO_ROOT) -> Path:
    """The program a project runs: ``<root>/<main>/__main__.py`` (or ``<root>/<main>`` if it is a
    ``.py`` file), where ``main`` comes from its Pulumi.yaml and defaults to the project directory.

    A directory holding only configuration (``Pulumi.yaml`` and ``stacks/``, as tests and
    promotions use) runs the program of this checkout at the same ``main``.
    """
    main = str(project_file(root).get("main") or ".")
    relative = Path(main) if main.endswith(".py") else Path(main) / "__main__.py"
    for base in (root, REPO_ROOT):
        if (base / relative).is_file():
            return (base / relative).resolve()
    raise StackFileError(f"Pulumi.yaml names `main: {main}`, but {root / relative} does not exist")


def available_stacks(root: Path = REPO_ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml"))


def read_stack_config(stack: str, root: Path = REPO_ROOT, overrides: Mapping[str, Any] | None = None) -> StackConfig:
    """Read ``Pulumi.yaml`` and ``stacks/Pulumi.<stack>.yaml`` the way the CLI does.

    ``set_mocks`` applies neither project defaults nor typed config, and ``secure:`` values
    cannot be decrypted without the stack's secrets provider: they become a placeholder.
    ``overrides`` (full keys such as ``mlplatform:network``) replace values, for tests and benches.
    """
    project_spec = project_file(root)
    project = project_spec["name"]
    stack_file = root / "stacks" / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise UnknownStackError(
            f"no stack '{stack}' (looked for stacks/Pulumi.{stack}.yaml); stacks: {', '.join(available_stacks(root))}"
        )
    raw: dict[str, Any] = {}
    for key, spec in (project_spec.get("config") or {}).items():
        value = spec.get("value", spec.get("default")) if isinstance(spec, dict) else spec
        if value is not None:
            raw[key] = value
    configured = _yaml_mapping(stack_file, f"stacks/Pulumi.{stack}.yaml").get("config") or {}
    _known_namespaces(configured, project, f"stacks/Pulumi.{stack}.yaml")
    raw.update(configured)
    raw.update(overrides or {})
    return engine_config(project, stack, raw)


def stack_settings(stack: str, root: Path = REPO_ROOT):
    """The validated settings of a platform stack (infra/settings.py), from its stack file as
    ``read_stack_config`` reads it; a ``SettingsError`` names what is wrong."""
    from infra.settings import NAMESPACE, parse

    config = read_stack_config(stack, root).values
    prefix = f"{NAMESPACE}:"
    return parse(stack, {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)})


def stack_file_setting(stack: str, key: str, root: Path = REPO_ROOT) -> Any:
    """A top-level key of ``stacks/Pulumi.<stack>.yaml`` that is not configuration, such as the
    ``secretsprovider`` that `pulumi stack init` records."""
    return _yaml_mapping(root / "stacks" / f"Pulumi.{stack}.yaml", f"stacks/Pulumi.{stack}.yaml").get(key)


# Namespaces a stack file may set besides the project's own: the providers the program uses and the
# engine's. A misspelled one (mlplatfrom:protect) would otherwise be ignored without a word.
PROVIDER_NAMESPACES = ("aws", "kubernetes", "pulumi")
# The namespace each project's program reads its settings from (infra/settings.py and
# bootstrap/settings.py NAMESPACE; a test keeps them equal).
PROGRAM_NAMESPACES = {
    "mlplatform": "mlplatform",
    "mlplatform-cluster": "mlplatform",
    "mlplatform-bootstrap": "bootstrap",
}
# Projects deployed with a project, after it and from its stack files, that read its outputs through a
# StackReference: the platform's in-cluster project (cluster/Pulumi.yaml, stackConfigDir ../stacks).
# A stack's Plan holds the resources of both, as one deployment of the stack does.
COMPANIONS = {"mlplatform": ("cluster",)}
# What get_organization() returns in a self-managed backend (pulumi pkg/backend/diy): StackReference
# names there are organization/<project>/<stack>.
DIY_ORGANIZATION = "organization"


def _known_namespaces(config: Mapping[str, Any], project: str, where: str) -> None:
    known = tuple(dict.fromkeys((project, PROGRAM_NAMESPACES.get(project, project), *PROVIDER_NAMESPACES)))
    for key in config:
        namespace = str(key).split(":", 1)[0] if ":" in str(key) else project
        if namespace not in known:
            close = difflib.get_close_matches(namespace, known, n=1)
            hint = f" (did you mean {close[0]}:{str(key).split(':', 1)[1]}?)" if close else ""
            raise StackFileError(
                f"{where}: config key {key!r} is in namespace {namespace!r}, which nothing reads{hint}; "
                f"namespaces: {', '.join(known)}"
            )


def engine_config(project: str, stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """Turn YAML config values into the strings the engine passes to a program."""
    values, secrets = stackfile.engine_values(raw, project)
    return StackConfig(project, stack, values, secrets)


class _Mocks(rt_mocks.Mocks):
    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None):
        # Outputs of the stacks a program may reference, by fully qualified name.
        self.stack_outputs = dict(stack_outputs or {})

    def new_resource(self, args):
        # RecordingMonitor answers registrations itself; only reads of existing resources get here.
        if args.typ == "pulumi:pulumi:StackReference":
            name = args.inputs.get("name") or args.resource_id
            if name not in self.stack_outputs:
                raise UnknownStackError(
                    f"stack reference {name!r}: the offline plan knows only "
                    f"{', '.join(sorted(self.stack_outputs)) or 'no stacks'}"
                )
            return name, {"name": name, "outputs": dict(self.stack_outputs[name]), "secretOutputNames": []}
        raise NotImplementedError(f"the offline plan cannot read existing resources ({args.typ} {args.name})")

    def call(self, args):
        raise NotImplementedError(
            f"the offline plan has no mock for the invoke {args.token}; add one to pipelines/mocks.py "
            "or avoid the invoke (settings already carry the account, region and zones)"
        )


class RecordingMonitor(rt_mocks.MockMonitor):
    """A mock resource monitor that records every registration and answers with realistic state."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__(_Mocks(stack_outputs))
        self.records: dict[str, dict[str, Any]] = {}
        self._locations: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _thread_loop(self) -> None:
        """The SDK calls the monitor from executor threads and needs an event loop there
        (``_ensure_event_loop`` makes one); remember it, so :func:`run` closes it rather than leaving it
        to the garbage collector at exit (which warns about a closed file descriptor)."""
        loop = _ensure_event_loop()
        with self._lock:
            self.thread_loops.add(loop)

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        self._thread_loop()
        return super().ReadResource(request)

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        self._thread_loop()
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = rpc.deserialize_properties(request.object)
        plain = _jsonable(inputs)
        if not request.custom:
            rid, state = "", {}
        elif request.type.startswith("pulumi:providers:"):
            rid, state = str(_uuid_of(urn)), inputs
            with self._lock:
                self._locations[f"{urn}::{rid}"] = provider_location(plain)
        else:
            region, account = self._locations.get(request.provider, DEFAULT_LOCATION)
            rid, state = physical_state(request.type, request.name, urn, inputs, region=region, account=account)
        with self._lock:
            self.records[urn] = {
                "urn": urn,
                "type": request.type,
                "name": request.name,
                "parent": request.parent or None,
                "custom": bool(request.custom),
                "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,
                "id": rid or None,
                "inputs": plain,
                "outputs": _jsonable(state),
                "options": _options(request),
                "dependencies": sorted(set(request.dependencies)),
                "property_dependencies": {
                    k: sorted(set(v.urns)) for k, v in sorted(request.propertyDependencies.items()) if v.urns
                },
            }
            self.resources[urn] = rt_mocks.MockMonitor.ResourceRegistration(urn, rid, state)
        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid, object=obj)

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        outputs = _jsonable(rpc.deserialize_properties(request.outputs))
        with self._lock:
            if request.urn in self.records and outputs:
                self.records[request.urn]["outputs"] = outputs
        return super().RegisterResourceOutputs(request)

    def plan(self, project: str, stack: str, outputs: dict[str, Any]) -> Plan:
        resources = [Resource(**self.records[urn]) for urn in sorted(self.records)]
        return Plan(project=project, stack=stack, resources=resources, outputs=outputs)


def companion_program(root: Path, directory: str) -> Path:
    """A companion project's program: in ``root``, or this checkout's for a configuration-only copy."""
    for base in (root, REPO_ROOT):
        project = base / directory
        if (project / "Pulumi.yaml").is_file():
            return program_of(project)
    raise StackFileError(f"{root / directory}: the companion project has no Pulumi.yaml")


def plan_stack(stack: str, root: Path = REPO_ROOT, overrides: Mapping[str, Any] | None = None) -> Plan:
    """The offline Plan of a stack of the project in ``root``: configuration and definitions from
    its Pulumi.yaml and stacks/, the program its Pulumi.yaml names (see :func:`program_of`)."""
    from infra.definitions import STACKS_DIR_ENV

    config = read_stack_config(stack, root, overrides)
    program = program_of(root)
    previous = os.environ.get(STACKS_DIR_ENV)
    os.environ[STACKS_DIR_ENV] = str(root / "stacks")
    try:
        plan = run(config, program=program)
        for directory in COMPANIONS.get(config.project, ()):
            plan = plan.with_companion(_companion_plan(plan, config, companion_program(root, directory)))
        return plan
    finally:
        if previous is None:
            os.environ.pop(STACKS_DIR_ENV, None)
        else:
            os.environ[STACKS_DIR_ENV] = previous


def _companion_plan(plan: Plan, config: StackConfig, program: Path) -> Plan:
    """Run a companion project's program for the same stack, from the same settings, with the
    project's outputs as what its StackReference reads."""
    project = str(project_file(program.parent)["name"])
    companion = StackConfig(project, config.stack, config.values, config.secret_keys)
    reference = f"{DIY_ORGANIZATION}/{config.project}/{config.stack}"
    return run(companion, RecordingMonitor({reference: plan.outputs}), program=program)


def run(config: StackConfig, monitor: RecordingMonitor | None = None, program: Path = PROGRAM) -> Plan:
    """Run a program (default: the platform's) once under mocks, in a fresh event loop and freshly
    reset runtime.

    Without the reset, a second stack planned in the same process would keep the first one's root
    Stack resource (pulumi/pulumi#24338). Errors of the program (SettingsError) propagate.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = monitor or RecordingMonitor()
    try:
        rt_settings.reset_options(project=config.project, stack=config.stack, preview=False)
        rt_config.set_all_config(dict(config.values), sorted(config.secret_keys))
        rt_mocks.set_mocks(
            monitor.mocks,
            project=config.project,
            stack=config.stack,
            preview=False,
            monitor=monitor,
            organization=DIY_ORGANIZATION,
        )
        root = rt_settings.get_root_resource()
        loop.run_until_complete(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
        outputs = loop.run_until_complete(_resolve_outputs(root.outputs))
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        for thread_loop in monitor.thread_loops - {loop}:
            if not thread_loop.is_running():
                thread_loop.close()
        asyncio.set_event_loop(None)
        rt_config.set_all_config({}, [])
        rt_settings.reset_options()
    return monitor.plan(config.project, config.stack, outputs)


async def _resolve_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    from pulumi import Output

    resolved = {}
    for name, value in sorted(outputs.items()):
        out = Output.from_input(value)
        resolved[name] = MASK if await out.is_secret() else _jsonable(await out.future())
    return resolved


def _options(request) -> dict[str, Any]:
    opts: dict[str, Any] = {"protect": bool(request.protect), "retainOnDelete": bool(request.retainOnDelete)}
    if request.ignoreChanges:
        opts["ignoreChanges"] = sorted(request.ignoreChanges)
    if request.replaceOnChanges:
        opts["replaceOnChanges"] = sorted(request.replaceOnChanges)
    if request.additionalSecretOutputs:
        opts["additionalSecretOutputs"] = sorted(request.additionalSecretOutputs)
    if request.deleteBeforeReplaceDefined:
        opts["deleteBeforeReplace"] = bool(request.deleteBeforeReplace)
    if request.deletedWith:
        opts["deletedWith"] = request.deletedWith
    if request.importId:
        opts["import"] = request.importId
    timeouts = {k: getattr(request.customTimeouts, k) for k in ("create", "update", "delete")}
    if any(timeouts.values()):
        opts["customTimeouts"] = {k: v for k, v in timeouts.items() if v}
    aliases = alias_urns(request)
    if aliases:
        opts["aliases"] = aliases
    return opts


def alias_urns(request) -> list[str]:
    """The former URNs a resource answers to, as the engine derives them from the SDK's alias specs
    (pulumi/pulumi sdk/proto/alias.proto: a spec's name, type, project and stack default to the
    resource's; its parent is ``parentUrn``, none with ``noParent``, else the resource's parent).
    Aliases a child inherits from its parent's aliases are not derived: a plan shows only the ones a
    resource declares."""
    urns = set(request.aliasURNs)
    for alias in request.aliases:
        if alias.urn:
            urns.add(alias.urn)
            continue
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        type_ = spec.type or request.type
        if parent:
            type_ = f"{parent.split('::')[2].split('$')[-1]}${type_}"
        stack = spec.stack or rt_settings.get_stack()
        project = spec.project or rt_settings.get_project()
        urns.add(f"urn:pulumi:{stack}::{project}::{type_}::{spec.name or request.name}")
    return sorted(urns)


def _uuid_of(urn: str) -> str:
    d = digest(urn)
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


def _jsonable(value: Any) -> Any:
    """Plain JSON data for the Plan: secrets masked, integral numbers as ints."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return MASK
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return f"[{type(value).__name__}]"
