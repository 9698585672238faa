"""A FastAPI app served through ``AsgiFunctionApp``, with the routes the worker's end-to-end
ASGI app has."""

from __future__ import annotations

import azure.functions as func
from fastapi import Body, FastAPI, HTTPException, Response
from pydantic import BaseModel

api = FastAPI()


class Fruit(BaseModel):
    name: str
    description: str | None = None


@api.get("/get_query_param")
async def get_query_param(name: str = "world") -> Response:
    return Response(content=f"hello {name}", media_type="text/plain")


@api.post("/post_str")
async def post_str(person: str = Body(...)) -> Response:
    return Response(content=f"hello {person}", media_type="text/plain")


@api.post("/post_json_return_json_response")
async def post_json_return_json_response(fruit: Fruit) -> Fruit:
    return fruit


@api.get("/get_path_param/{item}")
async def get_path_param(item: str) -> Response:
    return Response(content=f"hello {item}", media_type="text/plain")


@api.get("/raise_http_exception")
async def raise_http_exception() -> None:
    raise HTTPException(status_code=404, detail="Item not found")


app = func.AsgiFunctionApp(app=api, http_auth_level=func.AuthLevel.ANONYMOUS)
