"""SQL of the encryption walks: the rows of an encrypted column's table in primary-key batches, and a
column's values (for counting what is left in plaintext)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


async def batch_after(session: AsyncSession, model: type[Any], after: Any, limit: int) -> list[Any]:
    """Up to ``limit`` rows of ``model`` in primary-key order, those after the key ``after`` (or from
    the first when None): a walk in batches never sees a row twice."""
    pk = model.__mapper__.primary_key[0]
    query = select(model).order_by(pk).limit(limit)
    if after is not None:
        query = query.where(pk > after)
    return list((await session.scalars(query)).all())


async def column_values(session: AsyncSession, column: InstrumentedAttribute[str]) -> Sequence[str]:
    return (await session.scalars(select(column))).all()
