"""The CORS rule of a bucket the browser posts uploads to (the history bucket's imports, the files bucket's files):
the site's pages may POST to it, and read nothing. The deployed buckets get the same rule from infra/."""

from __future__ import annotations

from typing import Any


def upload_cors(site_origin: str) -> dict[str, Any]:
    return {
        "CORSRules": [
            {
                "AllowedOrigins": [site_origin],
                "AllowedMethods": ["POST"],
                "AllowedHeaders": ["*"],
                "MaxAgeSeconds": 3000,
            }
        ]
    }
