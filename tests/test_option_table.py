"""Every option is declared once (ogshot_client.options.OPTIONS); what cannot be generated from
the table without losing its types is kept in step with it here."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from ogshot_client.options import (
    BY_QUERY,
    KEYED,
    OPTIONS,
    RENDERING,
    ImageKeywords,
    ImageOptions,
    RawOptions,
    Role,
)

from ogshot.cli import build_parser
from shared.keys import QUERY_NAMES
from shared.optiontypes import OPTION_TYPES
from shared.sites import SITE_OPTIONS
from web.openapi import openapi_document
from worker.engines import PageOptions


def test_names_are_unique_and_the_url_fields_are_v_and_s() -> None:
    """No two rows share a keyword or a URL name; the signed-only fields are v and s."""
    assert len({o.name for o in OPTIONS}) == len({o.query for o in OPTIONS}) == len(OPTIONS)
    assert [o.query for o in OPTIONS if o.role is Role.SIGNED] == ["v", "s"]


def test_image_options_fields_are_the_keyed_rows_with_their_defaults() -> None:
    """ImageOptions has one field per keyed row, in order, defaulting to the row's default."""
    fields = dataclasses.fields(ImageOptions)
    assert [f.name for f in fields] == [o.name for o in KEYED]
    assert [f.default for f in fields] == [o.default for o in KEYED]


@pytest.mark.parametrize("typed", [ImageKeywords, RawOptions])
def test_typed_keywords_are_the_keyed_rows(typed: type) -> None:
    """The helper's typed keyword arguments (py.typed) name exactly the keyed options."""
    assert list(typing.get_type_hints(typed)) == [o.name for o in KEYED]


def test_page_options_are_the_render_rows() -> None:
    """The engines' page options are the render options."""
    assert [f.name for f in dataclasses.fields(PageOptions)] == [o.name for o in RENDERING]


def test_tables_made_from_the_rows() -> None:
    """The query names, the document types, the sites file's options and the OpenAPI
    schema's properties come from the rows."""
    assert {o.query: o.name for o in KEYED} == QUERY_NAMES
    assert {q: OPTION_TYPES[q] for q in QUERY_NAMES} == {o.query: o.document_type for o in KEYED}
    assert tuple(o.query for o in RENDERING) == SITE_OPTIONS
    schema = openapi_document()["components"]["schemas"]["PrewarmRequest"]["properties"]
    assert set(schema) == {"urls", "v", "webhook_url", *QUERY_NAMES}
    assert (schema["w"]["minimum"], schema["w"]["maximum"]) == BY_QUERY["w"].bounds


@pytest.mark.parametrize("command", ["render", "sign", "prewarm"])
def test_each_command_takes_a_flag_per_keyed_row(command: str) -> None:
    """ogshot render, sign and prewarm take --width ... --dark, one per keyed option."""
    sub = next(action for action in build_parser()._actions if action.dest == "command")
    parser = sub.choices[command]  # type: ignore[index]
    dests = {action.dest for action in parser._actions}
    assert {o.name for o in KEYED} <= dests
