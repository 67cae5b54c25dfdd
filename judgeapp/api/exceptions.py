from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from judgeapp.core.errors import ApplicationError, Forbidden


def exception_handler(exc, context):
    """DRF's handler, plus: an ApplicationError from a service is a 400 with its message (a
    Forbidden one, a 403)."""
    if isinstance(exc, ApplicationError):
        code = (
            status.HTTP_403_FORBIDDEN if isinstance(exc, Forbidden) else status.HTTP_400_BAD_REQUEST
        )
        return Response({"detail": exc.message, **exc.extra}, status=code)
    return drf_exception_handler(exc, context)
