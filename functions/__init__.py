"""Code that runs in AWS, not in the program: each folder is packaged as it is (the Python standard
library and the runtime's boto3 only) and deployed by a component."""
