"""A local S3-compatible server for the tests: moto's server mode, on a free port.

``s3_server`` (one per test session and worker) starts it and puts test credentials in the
environment, where pyarrow's default credential chain finds them, as a deployment's would;
``s3`` makes a fresh bucket per test and gives the server, the bucket and a storage URI naming
a prefix in it. A test module names this module in ``pytest_plugins`` and asks for ``s3``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "steward-test",
    "AWS_SECRET_ACCESS_KEY": "steward-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class S3Server:
    """A running moto S3 server."""

    endpoint: str  # host:port

    def uri(self, bucket: str, prefix: str) -> str:
        """A storage URI for ``s3://bucket/prefix`` on this server (no credentials in it)."""
        query = f"endpoint_override={self.endpoint}&scheme=http&region=us-east-1"
        return f"s3://{bucket}/{prefix}?{query}"

    def create_bucket(self, name: str) -> None:
        """Create an empty bucket."""
        import boto3

        client = boto3.client("s3", endpoint_url=f"http://{self.endpoint}", region_name="us-east-1")
        client.create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        """Every object key in ``bucket`` (listed by boto3, independently of pyarrow), except
        the empty ``folder/`` markers pyarrow leaves when a folder's last file goes."""
        import boto3

        client = boto3.client("s3", endpoint_url=f"http://{self.endpoint}", region_name="us-east-1")
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        keys = (obj["Key"] for page in pages for obj in page.get("Contents", []))
        return sorted(key for key in keys if not key.endswith("/"))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free port of 127.0.0.1, with test credentials in the environment."""
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(endpoint=f"{host}:{port}")
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket."""
    name = f"steward-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name


@dataclass(frozen=True, kw_only=True, slots=True)
class S3Bucket:
    """A fresh bucket on the test server, and a storage URI for a prefix in it."""

    server: S3Server
    bucket: str
    uri: str

    def keys(self) -> list[str]:
        """Every object key in the bucket (see ``S3Server.keys``)."""
        return self.server.keys(self.bucket)


@pytest.fixture
def s3(s3_server: S3Server, s3_bucket: str) -> S3Bucket:
    """A new bucket, with a storage URI naming the prefix ``steward`` in it."""
    return S3Bucket(server=s3_server, bucket=s3_bucket, uri=s3_server.uri(s3_bucket, "steward"))
