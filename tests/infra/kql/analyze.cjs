// Parses and semantically analyses KQL queries with the Kusto language service
// (@kusto/language-service-next), against a schema of tables and stored functions.
//
// stdin:  {"tables": {"T": {"columns": {"col": "type", ...}}}, "functions": {"F": "body"},
//          "queries": [{"name": "...", "text": "..."}]}
// stdout: {"queries": [{"name", "diagnostics": [{"severity", "code", "message", "start",
//          "length"}], "columns": [[name, type], ...], "references": [column names],
//          "events": [string literals compared with a column named `event`],
//          "assignments": [{"name", "text", "literals"}] for each `name = expression`}]}
"use strict";

require("@kusto/language-service-next/bridge.min.js");
require("@kusto/language-service-next/Kusto.Language.Bridge.min.js");

const K = Kusto.Language;
const S = K.Symbols;
const X = K.Syntax;

function kindName(node) {
  return System.Enum.toString(X.SyntaxKind, node.Kind);
}

function globals(schema) {
  const members = [];
  for (const [name, table] of Object.entries(schema.tables)) {
    const columns = Object.entries(table.columns).map(([c, t]) => `['${c}']:${t}`);
    members.push(new S.TableSymbol.$ctor7(name, `(${columns.join(", ")})`, null));
  }
  for (const [name, body] of Object.entries(schema.functions || {})) {
    members.push(new S.FunctionSymbol.$ctor12(name, `{\n${body}\n}`, S.Tabularity.Tabular, []));
  }
  return K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.ctor("workspace", members));
}

function stringLiterals(node) {
  const found = [];
  X.SyntaxElement.WalkNodes(node, (n) => {
    if (kindName(n) === "StringLiteralExpression") found.push(String(n.LiteralValue));
  });
  return found;
}

function analyse(text, state) {
  const code = K.KustoCode.ParseAndAnalyze(text, state);
  const diagnostics = Bridge.toArray(code.GetDiagnostics()).map((d) => ({
    severity: String(d.Severity),
    code: String(d.Code),
    message: String(d.Message),
    start: d.Start,
    length: d.Length,
  }));
  const references = new Set();
  const events = new Set();
  const assignments = [];
  X.SyntaxElement.WalkNodes(code.Syntax, (n) => {
    const kind = kindName(n);
    if (kind === "SimpleNamedExpression") {
      assignments.push({
        name: String(n.Name.SimpleName),
        text: n.Expression.toString().trim(),
        literals: stringLiterals(n.Expression),
      });
    } else if (kind === "NameReference") {
      const symbol = n.ReferencedSymbol;
      if (symbol && System.Enum.toString(S.SymbolKind, symbol.Kind) === "Column") {
        references.add(String(n.SimpleName));
      }
    } else if (/^(In|NotIn|Equal|NotEqual)(CaseInsensitive|CaseSensitive)?Expression$/.test(kind)) {
      if (/^(In|Equal)/.test(kind) && n.Left.toString().trim() === "event") {
        stringLiterals(n.Right).forEach((v) => events.add(v));
      }
    }
  });
  const result = code.ResultType;
  const columns =
    result && result.Columns
      ? Bridge.toArray(result.Columns).map((c) => [String(c.Name), String(c.Type.Name)])
      : [];
  return {
    diagnostics,
    columns,
    references: [...references].sort(),
    events: [...events].sort(),
    assignments,
  };
}

function main() {
  const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const state = globals(input);
  const queries = input.queries.map((q) => ({ name: q.name, ...analyse(q.text, state) }));
  process.stdout.write(JSON.stringify({ queries }));
}

main();
