# mypy: disable-error-code="import-untyped,untyped-decorator"
# Django ships without type information, so mypy treats its imports as Any.
"""A whole Django project in one module: settings, views and URLconf.

Importing it configures Django for this process (``settings.configure`` may
run only once per process), with ``ROOT_URLCONF`` pointing back at this
module. ``application`` is Django's ASGI handler, which raises for any scope
type but ``http``, lifespan included.
"""

from __future__ import annotations

import asyncio
import hashlib

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

if not settings.configured:
    settings.configure(
        DEBUG=False,
        # Signs nothing that leaves a test: the CSRF check only needs a key.
        SECRET_KEY="django-site-test-key-not-for-production",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        USE_TZ=True,
    )


def hello(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"hello": name, "method": request.method, "q": request.GET.get("q")})


@csrf_exempt
def echo(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    data = request.body
    return JsonResponse(
        {
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": request.content_type,
        }
    )


def guarded(request: HttpRequest) -> HttpResponse:
    # Not exempt: a POST without a CSRF token never reaches this view.
    return HttpResponse("reached the guarded view")


async def pause(request: HttpRequest) -> JsonResponse:
    # An async view runs on the server's event loop, not in a thread.
    await asyncio.sleep(0)
    return JsonResponse({"async": True})


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the broken view always fails")


urlpatterns = [
    path("hello/<str:name>/", hello),
    path("echo/", echo),
    path("guarded/", guarded),
    path("pause/", pause),
    path("broken/", broken),
]

# Calls django.setup(), which loads the settings configured above.
application = get_asgi_application()
