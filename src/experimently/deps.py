"""FastAPI dependencies of every router: the runtime and the request's session. The acting subject
(``ActorDep``) is the auth package's: ``experimently.auth.deps``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from experimently.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """``async`` on purpose: FastAPI runs a plain ``def`` dependency in the thread pool, a thread hop
    on every request for one attribute read."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commits when the endpoint returns, rolls back when it raises."""
    async with runtime.db.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
