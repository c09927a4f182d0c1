"""The one safe-input policy (sortpcr.safe_input), with hand-made files and known answers."""

from __future__ import annotations

import os

import pytest

from sortpcr.errors import FCSError, GatingError, XMLSecurityError
from sortpcr.fcs import read_fcs
from sortpcr.gating import load_strategy
from sortpcr.safe_input import parse_xml, read_user_file, read_xml_file

DOC = b'<?xml version="1.0"?><root a="1"><child>x</child></root>'


def test_a_regular_file_within_the_limit_is_read_exactly(tmp_path):
    path = tmp_path / "ok.xml"
    path.write_bytes(DOC)
    assert read_user_file(path, error=GatingError, max_bytes=len(DOC)) == DOC
    root = read_xml_file(path, error=GatingError)
    assert root.tag == "root" and root.get("a") == "1" and root.find("child").text == "x"


def test_a_file_one_byte_over_the_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.fcs"
    path.write_bytes(b"x" * 101)
    with pytest.raises(FCSError, match="is 101 bytes, over the limit of 100 bytes") as err:
        read_user_file(path, error=FCSError, max_bytes=100)
    assert err.value.path == str(path)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(GatingError, match="is a directory") as err:
        read_user_file(tmp_path, error=GatingError, max_bytes=10)
    assert err.value.path == str(tmp_path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    with pytest.raises(GatingError, match=r"not a regular file \(a pipe or a device\?\)"):
        read_user_file(fifo, error=GatingError, max_bytes=10)
    with pytest.raises(FCSError, match="not a regular file"):
        read_fcs(fifo)


def test_missing_and_unreadable_paths_name_the_kind_and_reason(tmp_path):
    with pytest.raises(GatingError, match="gating strategy file not found"):
        load_strategy(tmp_path / "absent.xml")
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(FCSError, match="cannot be read: Not a directory"):
        read_fcs(tmp_path / "plain" / "inner.fcs")


def test_a_dtd_is_refused_not_resolved(tmp_path):
    doc = b'<?xml version="1.0"?><!DOCTYPE root SYSTEM "file:///etc/passwd"><root/>'
    with pytest.raises(XMLSecurityError, match="DTD or entities") as err:
        parse_xml(doc, "x.xml", error=GatingError)
    assert err.value.where == "DOCTYPE" and err.value.path == "x.xml"


def test_an_entity_is_refused_not_expanded(tmp_path):
    doc = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>'
    )
    path = tmp_path / "laughs.xml"
    path.write_bytes(doc)
    with pytest.raises(XMLSecurityError, match="Remove the <!DOCTYPE"):
        load_strategy(path)


def test_malformed_xml_raises_the_callers_own_error_with_its_place():
    with pytest.raises(GatingError, match="not well-formed XML") as err:
        parse_xml(b"<root><open></root>", "m.xml", error=GatingError, where="zip member 'a'")
    assert err.value.where == "zip member 'a'" and not isinstance(err.value, XMLSecurityError)
