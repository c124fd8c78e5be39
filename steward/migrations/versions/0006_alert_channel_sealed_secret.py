"""alert-channel-sealed-secret: channel secrets are stored sealed (AES-GCM), never in plain text

Revision ID: 0006
Revises: 0005

The secrets key lives in a file beside the audit key, which a migration cannot rely on finding
(it may run from another machine, or from plain Alembic). So this revision only widens the column
for sealed values and marks each existing plain-text secret ``plain:<secret>``; `steward db
upgrade` seals the marked rows right after migrating, with an audit entry per channel, and a
delivery refuses a marked row until then.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_CHANNELS = sa.table("monitor_alert_channels", sa.column("secret", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("monitor_alert_channels") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(256), type_=sa.String(512), existing_nullable=False
        )
    op.execute(
        _CHANNELS.update()
        .where(_CHANNELS.c.secret.not_like("v1:%"))
        .where(_CHANNELS.c.secret.not_like("plain:%"))
        .values(secret=sa.literal("plain:") + _CHANNELS.c.secret)
    )


def downgrade() -> None:
    sealed = op.get_bind().execute(
        sa.select(sa.func.count()).select_from(_CHANNELS).where(_CHANNELS.c.secret.like("v1:%"))
    )
    if sealed.scalar_one():
        # The old schema holds plain text only, and a migration cannot read the secrets key.
        raise RuntimeError("channel secrets are sealed: delete those channels before downgrading")
    op.execute(
        _CHANNELS.update()
        .where(_CHANNELS.c.secret.like("plain:%"))
        .values(secret=sa.func.substr(_CHANNELS.c.secret, 7))
    )
    with op.batch_alter_table("monitor_alert_channels") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(512), type_=sa.String(256), existing_nullable=False
        )
