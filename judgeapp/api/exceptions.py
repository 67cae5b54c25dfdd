from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from judgeapp.core.errors import ApplicationError


def exception_handler(exc, context):
    """DRF's handler, plus: an ApplicationError from a service is a 400 with its message."""
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
