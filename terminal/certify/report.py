"""What a run leaves: the cards table, the verdicts as a table, an HTML report with the evidence, JUnit XML."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from rich.table import Table

from terminal.certify.population import PEOPLE
from terminal.certify.session import Options, Result

__all__ = ["cards_table", "passed", "verdict_table", "write_html", "write_junit"]

MARK = {"pass": "PASS", "fail": "FAIL", "n/a": "n/a"}


def passed(results: Sequence[Result]) -> bool:
    """Every required case passed (a case that does not apply on this door is not a failure)."""
    return all(r.verdict.outcome != "fail" for r in results if r.case.required)


def cards_table(till_url: str) -> Table:
    table = Table(title=f"cards for this run (till → {till_url})", title_justify="left")
    for column in ("name", "psn_no", "QR token (01)", "card (03)", "for"):
        table.add_column(column, overflow="fold")
    for p in PEOPLE:
        table.add_row(p.name, p.psn_no, p.qr, p.card, p.role)
    return table


def verdict_table(results: Sequence[Result], pending: Sequence[str] = ()) -> Table:
    table = Table(title="conformance run", title_justify="left")
    for column in ("case", "required", "verdict", "s", "detail"):
        table.add_column(column, overflow="fold")
    for r in results:
        style = {"pass": "green", "fail": "bold red"}.get(r.verdict.outcome, "dim")
        table.add_row(r.case.id, "yes" if r.case.required else "no", f"[{style}]{MARK[r.verdict.outcome]}[/]",
                      f"{r.seconds:.1f}", r.verdict.detail)
    for case_id in pending:
        table.add_row(case_id, "", "…", "", "")
    return table


def _message(label: str, body: object) -> str:
    text = json.dumps(body, ensure_ascii=False, indent=1, default=str) if body is not None else "(no answer went out)"
    return f"<div class=msg><b>{label}</b><pre>{html.escape(text)}</pre></div>"


def _case_html(r: Result) -> str:
    shown = set(r.verdict.evidence)
    rows = []
    for e in r.exchanges:
        key = " key" if e.id in shown else ""
        rows.append(f"<details class='ex{key}'{' open' if key else ''}><summary>#{e.id} {html.escape(str(e.infno))} "
                    f"{html.escape(str(e.msgid))} → {html.escape(str(e.code))} · answers sent: {e.answers} · "
                    f"{html.escape(str(e.switch_time))}</summary>{_message('request', e.request)}"
                    f"{_message('answer', e.response)}</details>")
    answers = f"<p>the till reported: <code>{html.escape(json.dumps(r.answers, ensure_ascii=False))}</code></p>" \
        if r.answers else ""
    fix = f"<p><b>Fix:</b> {html.escape(r.case.fix)}</p>" if r.verdict.outcome == "fail" else ""
    return (f"<section id='{r.case.id}' class='{r.verdict.outcome.replace('/', '')}'>"
            f"<h2>{MARK[r.verdict.outcome]} · {html.escape(r.case.id)}: {html.escape(r.case.title)}"
            f"{'' if r.case.required else ' (recommended)'}</h2>"
            f"<p><b>Rule:</b> {html.escape(r.case.rule)}</p><p><b>Verdict:</b> {html.escape(r.verdict.detail)}</p>"
            f"{fix}<p><b>Asked:</b> {html.escape(r.case.prompt())}</p>{answers}"
            f"<h3>Evidence ({len(r.exchanges)} messages; the ones the verdict rests on are open)</h3>"
            f"{''.join(rows) or '<p>no traffic</p>'}</section>")


def write_html(path: Path, opts: Options, results: Sequence[Result]) -> None:
    ok = passed(results)
    summary = "".join(f"<tr class='{r.verdict.outcome.replace('/', '')}'><td><a href='#{r.case.id}'>{r.case.id}</a>"
                      f"</td><td>{'yes' if r.case.required else 'no'}</td><td>{MARK[r.verdict.outcome]}</td>"
                      f"<td>{html.escape(r.verdict.detail)}</td></tr>" for r in results)
    who = f"terminal {opts.terminal} of {opts.fixmedins}" if opts.door == "mqtt" else f"institution {opts.fixmedins}"
    style = ("body{font-family:sans-serif;max-width:70em;margin:auto}td,th{padding:.2em .6em;text-align:left}"
             ".fail h2,tr.fail td:nth-child(3){color:#b00}.pass h2,tr.pass td:nth-child(3){color:#070}"
             "pre{background:#f4f4f4;padding:.4em;overflow-x:auto}.key summary{font-weight:bold}")
    page = (f"<!doctype html><html lang=en><meta charset=utf-8><title>gongji certify: {html.escape(who)}</title>"
            f"<style>{style}</style><h1>Conformance run: {html.escape(who)} over {opts.door}</h1>"
            f"<p id=outcome>{'PASSED: every required case passed' if ok else 'FAILED: a required case failed'}</p>"
            f"<table><tr><th>case</th><th>required</th><th>verdict</th><th>detail</th></tr>{summary}</table>"
            f"{''.join(_case_html(r) for r in results)}</html>\n")
    path.write_text(page, encoding="utf-8")


def write_junit(path: Path, opts: Options, results: Sequence[Result]) -> None:
    failures = sum(1 for r in results if r.verdict.outcome == "fail")
    skipped = sum(1 for r in results if r.verdict.outcome == "n/a")
    suite = ET.Element("testsuite", name=f"gongji-certify-{opts.door}", tests=str(len(results)),
                       failures=str(failures), skipped=str(skipped), time=f"{sum(r.seconds for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"certify.{opts.door}", name=r.case.id,
                             time=f"{r.seconds:.3f}")
        ET.SubElement(case, "properties").extend([
            ET.Element("property", name="required", value=str(r.case.required).lower()),
            ET.Element("property", name="rule", value=r.case.rule)])
        if r.verdict.outcome == "fail":
            failure = ET.SubElement(case, "failure", message=r.verdict.detail, type="required" if r.case.required
                                    else "recommended")
            failure.text = f"rule: {r.case.rule}\nfix: {r.case.fix}\nevidence: exchanges {list(r.verdict.evidence)}"
        elif r.verdict.outcome == "n/a":
            ET.SubElement(case, "skipped", message=r.verdict.detail)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
