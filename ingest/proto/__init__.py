"""Protobuf classes generated from the .proto files beside them (committed, so no protoc at run time).

Regenerate after editing a .proto (grpcio-tools only for this, not a dependency):

    .venv/bin/pip install grpcio-tools
    .venv/bin/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. ingest/proto/*.proto
    .venv/bin/pip uninstall -y grpcio-tools grpcio

The generated code must not be newer than the pinned protobuf runtime (requirements.txt).
"""
