from __future__ import annotations

from mwrelease.upgrade.backup import pg_toc

TOC = """;
; Archive created at 2026-11-22 03:28:40 UTC
;     dbname: wiki
;
5; 2615 16386 SCHEMA - mediawiki wikiuser
220; 1259 16400 TABLE mediawiki actor wikiuser
221; 1259 16399 SEQUENCE mediawiki actor_actor_id_seq wikiuser
230; 1259 16500 TABLE public legacy wikiuser
3500; 0 16400 TABLE DATA mediawiki actor wikiuser
"""


def test_pg_toc_reads_schemas_and_tables() -> None:
    schemas, tables = pg_toc(TOC)
    assert schemas == {"mediawiki"}
    assert tables == {"mediawiki": {"actor"}, "public": {"legacy"}}
