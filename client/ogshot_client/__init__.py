"""What a site needs from ogshot: image URLs, their meta tags and pre-warm calls.

    from ogshot_client import og_tags
    og_tags("https://ogshot.example", "https://example.com/board/42")
    # -> <meta property="og:image" content="https://ogshot.example/image/https%3A%2F%2F...png">
    #    <meta property="og:image:width" content="1200"> ... <meta name="twitter:image" ...>

In Flask: ``init_app(app, "https://ogshot.example")``, then in a template
``{{ request.url | og_tags }}``. After a page changed: ``prewarm(server, token, [url])``,
with ``version=`` and ``webhook_url=`` to hear when the new image is ready
(``verify_webhook``; docs/pages.md, "Fresh previews after an update"). Standard library only.
"""

from ogshot_client.api import ApiClient, ApiError, prewarm
from ogshot_client.options import ImageOptions, InvalidOptions
from ogshot_client.signing import sign, verify
from ogshot_client.tags import Html, init_app, og_image_url, og_tags
from ogshot_client.versions import VersionLedger
from ogshot_client.webhooks import SIGNATURE_HEADER, WebhookError, verify_webhook

__all__ = [
    "SIGNATURE_HEADER",
    "ApiClient",
    "ApiError",
    "Html",
    "ImageOptions",
    "InvalidOptions",
    "VersionLedger",
    "WebhookError",
    "init_app",
    "og_image_url",
    "og_tags",
    "prewarm",
    "sign",
    "verify",
    "verify_webhook",
]
