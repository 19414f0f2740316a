"""An AI agent's session with `wfc mcp`, through the official MCP Python SDK (PyPI's `mcp`).

Usage: mcp_session.py WFC_BINARY OUT_DIR. Asserts what an agent relies on, prints one line per
step, and exits non-zero on the first thing that does not hold.
"""

import asyncio
import os
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client

BROKEN = """\
name: broken
root:
  type: Sequence
  id: main
  children:
    - {type: Log, id: hello, config: {message: "hi {{ input.name }}"}}
    - {type: Log, id: bye, config: {message: "{{ helo.message }}"}}
"""

FIXED = BROKEN.replace("helo.message", "hello").replace("type: Log, id: bye", "type: Template, id: bye").replace("{message: \"{{ hello }}\"}", "{template: \"bye {{ input.name }}\"}")


def structured(result):
    # 2.x names it `structured_content`; 1.x `structuredContent`.
    return getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)


def is_error(result):
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


async def main(binary: str, out_dir: str) -> None:
    params = StdioServerParameters(command=binary, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            info = getattr(init, "server_info", None) or getattr(init, "serverInfo")
            assert info.name == "wfc", info
            print(f"initialized: {info.name} {info.version}, protocol {getattr(init, 'protocol_version', None) or init.protocolVersion}")

            tools = {t.name for t in (await session.list_tools()).tools}
            assert {"node_types", "schema", "check", "explain", "plan", "build"} <= tools, tools
            print(f"tools: {', '.join(sorted(tools))}")

            types = structured(await session.call_tool("node_types", {}))["nodeTypes"]
            http = next(t for t in types if t["name"] == "HttpRequest")
            assert any(f["name"] == "url" and f["required"] for f in http["fields"]), http
            assert http["activity"] is True
            print(f"node_types: {len(types)} types; HttpRequest fields {[f['name'] for f in http['fields']]}")
            one = structured(await session.call_tool("node_types", {"type": "Log"}))["nodeTypes"]
            assert [t["name"] for t in one] == ["Log"], one
            missing = await session.call_tool("node_types", {"type": "Teleport"})
            assert is_error(missing), missing

            schema = structured(await session.call_tool("schema", {}))["schema"]
            assert "$schema" in schema or "properties" in schema or "oneOf" in schema or "anyOf" in schema, list(schema)
            print("schema: a JSON Schema document")

            checked = await session.call_tool("check", {"text": BROKEN})
            report = structured(checked)
            assert report["ok"] is False, report
            bad = [d for d in report["diagnostics"] if d["severity"] == "error"]
            assert bad, report
            first = bad[0]
            assert first["code"].startswith("E") and first["line"] == 7 and first["column"] > 1 and first["help"], first
            assert "helo" in first["message"] or "helo" in first["label"], first
            print(f"check (broken): {first['code']} {first['name']} at {first['line']}:{first['column']}: {first['message']} (help: {first['help']})")

            fixed = structured(await session.call_tool("check", {"text": FIXED}))
            assert fixed["ok"] is True, fixed
            print(f"check (fixed): ok, {len(fixed['diagnostics'])} diagnostics")

            explained = structured(await session.call_tool("explain", {"code": first["code"]}))
            assert explained["code"] == first["code"] and len(explained["explanation"]) > 20, explained
            print(f"explain {first['code']}: {explained['explanation'].splitlines()[0]}")

            plan = structured(await session.call_tool("plan", {"text": FIXED, "format": "mermaid"}))
            assert plan["plan"].startswith(("flowchart", "graph")) and "hello" in plan["plan"], plan
            text_plan = structured(await session.call_tool("plan", {"text": FIXED}))["plan"]
            assert "bye" in text_plan, text_plan
            print(f"plan: mermaid with {len(plan['plan'].splitlines())} lines")
            invalid_plan = await session.call_tool("plan", {"text": BROKEN})
            assert is_error(invalid_plan) and structured(invalid_plan)["diagnostics"], invalid_plan

            refused = await session.call_tool("build", {"text": BROKEN, "directory": os.path.join(out_dir, "refused")})
            assert is_error(refused) and not os.path.exists(os.path.join(out_dir, "refused")), refused
            built = structured(await session.call_tool("build", {"text": FIXED, "directory": os.path.join(out_dir, "broken")}))
            assert built["name"] == "broken" and "Cargo.toml" in built["files"], built
            for name in built["files"]:
                assert os.path.isfile(os.path.join(out_dir, "broken", name)), name
            print(f"build: {built['name']} -> {len(built['files'])} files")

            resources = (await session.list_resources()).resources
            uris = [str(r.uri) for r in resources]
            assert "wfc://samples/purchase-approval.yaml" in uris and "wfc://docs/nodes.md" in uris, uris
            sample = await session.read_resource("wfc://samples/purchase-approval.yaml")
            text = sample.contents[0].text
            assert "HumanApproval" in text, text[:200]
            again = structured(await session.call_tool("check", {"text": text}))
            assert again["ok"] is True, again
            print(f"resources: {len(uris)}; a sample read back checks ok")


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except BaseException as e:  # noqa: BLE001 - any failure, with its assertion text, fails the session
        import traceback

        traceback.print_exc()
        print(f"FAIL: {e!r}", file=sys.stderr)
        sys.exit(1)
