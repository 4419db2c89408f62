from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from project.fields import validated_input
from users.errors import InvalidCredentials, LockedOut
from users.models import User
from users.services import token_for_user, user_register


class RegisterInput(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    email = serializers.EmailField(
        max_length=User._meta.get_field("email").max_length,
        required=False,
        allow_blank=True,
        default="",
    )
    phone = serializers.RegexField(
        r"^\+?[0-9 ()-]{3,32}\Z", required=False, allow_blank=True, default=""
    )


class RegisterOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    token = serializers.CharField()


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    is_staff = serializers.BooleanField()


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=RegisterInput, responses={201: RegisterOutput}, tags=["accounts"])
    def post(self, request):
        data = validated_input(RegisterInput, request)
        user, token = user_register(**data)
        return Response(
            RegisterOutput({"id": user.pk, "username": user.username, "token": token}).data,
            status=status.HTTP_201_CREATED,
        )


class TokenView(APIView):
    """The login endpoint: one of the two places (with the admin login) behind django-axes."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=TokenInput,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
        tags=["accounts"],
    )
    def post(self, request):
        data = validated_input(TokenInput, request)
        credentials = {"username": data["username"]}
        django_request = request._request
        # Checked before authenticating, so that the five failures before a lockout each
        # answer invalid_credentials and only the attempts after them answer locked_out.
        if not AxesProxyHandler.is_allowed(django_request, credentials):
            raise LockedOut("Too many failed logins for this username; try again later.")
        user = authenticate(django_request, **data)
        # This failure may be the one that locks the username; the lockout applies from
        # the next attempt, so keep axes' middleware from rewriting this answer.
        django_request.axes_locked_out = False
        if user is None:
            raise InvalidCredentials("The username or password is wrong.")
        return Response({"token": token_for_user(user=user)})


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeOutput}, tags=["accounts"])
    def get(self, request):
        return Response(MeOutput(request.user).data)
