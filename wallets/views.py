from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from idempotency.http import run_idempotent
from project.domain_errors import NotFound
from project.fields import StrictIntegerField, validated_input
from project.pagination import NewestFirstPagination
from wallets.models import Posting
from wallets.selectors import wallet_entries, wallet_get
from wallets.services import deposit_create


class WalletOutput(serializers.Serializer):
    balance = serializers.IntegerField()
    currency = serializers.CharField()


class EntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Posting.Kind.choices, source="posting.kind")
    tournament = serializers.IntegerField(source="posting.tournament_id", allow_null=True)
    balance_after = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class DepositInput(serializers.Serializer):
    amount = StrictIntegerField(min_value=1, max_value=10**12)


class WalletView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: WalletOutput}, tags=["wallets"])
    def get(self, request):
        wallet = wallet_get(user_id=request.user.pk)
        balance = wallet.balance if wallet else 0
        return Response(WalletOutput({"balance": balance, "currency": settings.CURRENCY}).data)


class WalletEntriesView(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = EntryOutput
    pagination_class = NewestFirstPagination

    @extend_schema(tags=["wallets"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return wallet_entries(user_id=self.request.user.pk)


class DepositView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=DepositInput,
        responses={
            201: inline_serializer("DepositResult", {"balance": serializers.IntegerField()})
        },
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
        tags=["wallets"],
    )
    def post(self, request, user_id: int):
        data = validated_input(DepositInput, request)
        # The ledger knows players only as the auth user model (like its foreign keys), not
        # the users app, which depends on it (a sign-up opens a wallet).
        if not get_user_model().objects.filter(pk=user_id).exists():
            raise NotFound(f"There is no user {user_id}.")

        def deposit():
            wallet = deposit_create(user_id=user_id, amount=data["amount"])
            return status.HTTP_201_CREATED, {"balance": wallet.balance}

        return run_idempotent(request, deposit)
