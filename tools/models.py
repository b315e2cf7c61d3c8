"""Business records as the backends return them (the demo data's shape)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Address(_Record):
    """A postal address."""

    address1: str
    address2: str = ""
    city: str
    state: str
    zip: str
    country: str


class OrderItem(_Record):
    """One line of an order."""

    name: str
    item_id: str
    product_id: str
    price: float
    options: dict[str, str] = Field(default_factory=dict)


class Fulfillment(_Record):
    """A shipment: tracking numbers and the items it carries."""

    tracking_id: list[str]
    item_ids: list[str]


class Payment(_Record):
    """A payment or refund on an order."""

    transaction_type: str
    amount: float
    payment_method_id: str


class Order(_Record):
    """An order, owned by exactly one customer."""

    order_id: str
    user_id: str
    status: str
    address: Address
    items: list[OrderItem]
    fulfillments: list[Fulfillment] = Field(default_factory=list)
    payment_history: list[Payment] = Field(default_factory=list)

    @property
    def total(self) -> float:
        """Amount paid, net of refunds."""
        signed = (
            p.amount if p.transaction_type == "payment" else -p.amount for p in self.payment_history
        )
        return round(sum(signed), 2)

    @property
    def tracking_ids(self) -> list[str]:
        """Every tracking number across shipments."""
        return [t for f in self.fulfillments for t in f.tracking_id]


class PersonName(_Record):
    """First and last name."""

    first_name: str
    last_name: str


class PaymentMethod(_Record):
    """A stored payment method; card numbers are never held, only the last four digits."""

    id: str
    source: str
    brand: str | None = None
    last_four: str | None = None
    balance: float | None = None


class Account(_Record):
    """A customer profile."""

    user_id: str
    name: PersonName
    email: str
    address: Address
    payment_methods: dict[str, PaymentMethod] = Field(default_factory=dict)
    orders: list[str] = Field(default_factory=list)
