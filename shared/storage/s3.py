"""S3 storage through boto3: the only module that knows botocore.

The object body is the image itself (browsable in MinIO or the AWS console); the metadata
rides along as one JSON user-metadata value, written and read in the same request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from shared.storage import ImageMeta, StorageUnavailable, StoredImage
from shared.storage.hot import HotCache

_META = "ogshot"
# S3 caps user metadata at 2 KiB; leave room for the header name and MinIO's own.
_META_LIMIT = 1900
_MISSING = {"NoSuchKey", "404", "NotFound"}


def make_s3_client(endpoint_url: str | None) -> Any:
    """Build a client with short timeouts: a slow store must not hold a web thread long."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        config=BotoConfig(
            connect_timeout=2,
            read_timeout=10,
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=64,
        ),
    )


def _not_modified(exc: Exception) -> bool:
    """Whether ``exc`` is S3's 304 answer to a conditional GET."""
    return isinstance(exc, ClientError) and str(exc.response.get("Error", {}).get("Code")) == "304"


def _translate(exc: Exception, what: str) -> Exception:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            return FileNotFoundError(what)
        return StorageUnavailable(f"S3 refused {what}: {code}")
    return StorageUnavailable(f"S3 unreachable for {what}: {exc}")


class S3Storage:
    """Stores images in one bucket under an optional prefix."""

    name = "s3"

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        hot_bytes: int = 0,
        hot_seconds: float = 0.0,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.hot = HotCache(hot_bytes, hot_seconds) if hot_bytes else None

    def get(self, key: str) -> StoredImage:
        """Return the image and its metadata: from memory while trusted, else from one GET
        (conditional if it is in memory)."""
        hot = self.hot
        if hot is None:
            return self._get(key, None, 0)
        cached = hot.fresh(key)
        if cached is not None:
            return cached
        return self._get(key, hot, hot.generation())

    def _get(self, key: str, hot: HotCache | None, generation: int) -> StoredImage:
        etag = hot.version(key) if hot is not None else None
        condition = {"IfNoneMatch": etag} if etag else {}
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key,
                                              **condition)  # fmt: skip
            data = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            if hot is not None and etag is not None and _not_modified(exc):
                cached = hot.get(key, etag, generation)
                # None: evicted meanwhile by another thread; read it whole.
                return cached if cached is not None else self._get(key, None, 0)
            raise _translate(exc, key) from exc
        image = StoredImage(self._meta(response, key), data)
        if hot is not None:
            hot.put(key, response.get("ETag"), image, generation)
        return image

    def head(self, key: str) -> ImageMeta:
        """Return the metadata: from memory while trusted, else from a HEAD request."""
        if self.hot is not None and (cached := self.hot.fresh(key)) is not None:
            return cached.meta
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, key) from exc
        return self._meta(response, key)

    @staticmethod
    def _meta(response: dict[str, Any], key: str) -> ImageMeta:
        try:
            return ImageMeta.from_json(response["Metadata"][_META])
        except (KeyError, ValueError, TypeError) as exc:
            raise StorageUnavailable(f"object {key} has no ogshot metadata") from exc

    def put(self, key: str, data: bytes, meta: ImageMeta) -> None:
        """Upload bytes and metadata in one PUT (S3 replaces objects atomically)."""
        encoded = meta.to_json()
        while len(encoded) > _META_LIMIT and (meta.title or meta.readiness or meta.versions):
            # Title and readiness are only for display: shorten them rather than lose the
            # image. Then the oldest versions go: one asked for again costs a render.
            if meta.title or meta.readiness:
                meta = dataclasses.replace(
                    meta, title=meta.title[: len(meta.title) // 2],
                    readiness=meta.readiness[: len(meta.readiness) // 2],
                )  # fmt: skip
            else:
                meta = dataclasses.replace(meta, versions=meta.versions[1:])
            encoded = meta.to_json()
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.prefix + key,
                Body=data,
                ContentType=meta.content_type,
                Metadata={_META: encoded},
            )
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, key) from exc
        finally:
            self._forget(key)

    def delete(self, key: str) -> None:
        """Delete the object; S3 treats a missing key as success."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, key) from exc
        finally:
            self._forget(key)

    def _forget(self, key: str) -> None:
        # After the change, so a read that raced it cannot put the old image back.
        if self.hot is not None:
            self.hot.discard(key)

    def keys(self, prefix: str) -> Iterator[str]:
        """Yield every stored key that starts with ``prefix``, page by page."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, prefix) from exc

    def check(self) -> None:
        """Raise StorageUnavailable unless the bucket answers."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"bucket {self.bucket}: {exc}") from exc

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist; raise StorageUnavailable saying why not."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in _MISSING and code != "NoSuchBucket":
                raise StorageUnavailable(f"cannot use bucket {self.bucket}: {code}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"cannot reach S3 for bucket {self.bucket}: {exc}") from exc
        region = self.client.meta.region_name
        extra: dict[str, Any] = {}
        if region and region != "us-east-1":
            # Outside us-east-1 S3 wants the region named again when creating a bucket.
            extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"cannot create bucket {self.bucket}: {exc}") from exc
