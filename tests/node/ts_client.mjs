// The TypeScript SDK's client, driven line by line by a pytest test.
//
// Usage: node ts_client.mjs stdio <command> [args...]
//        node ts_client.mjs http <url>
//
// Reads one JSON request per stdin line and prints one JSON answer per stdout line:
//   {"method": "tools/list"}                          -> {"ok": true, "result": {...}}
//   {"method": "tools/call", "name": n, "arguments": a} -> {"ok": true, "result": {...}}
//   {"method": "tasks/call", "name": n, "arguments": a} -> every message of the SDK's
//        experimental callToolStream (taskCreated, taskStatus..., then result or error)
//   {"method": "tasks/start", "name": n, "arguments": a} -> the CreateTaskResult alone
//   {"method": "tasks/get" | "tasks/result" | "tasks/cancel", "taskId": t}, {"method": "tasks/list"}
//   a request the SDK rejects                           -> {"ok": false, "error": {code, message}}
// The client is the SDK's own Client: it validates structured content against each tool's
// outputSchema, as every host built on it does, so a result that breaks the schema shows up
// here as {"ok": false} with code -32602.
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [kind, target, ...rest] = process.argv.slice(2);
const transport =
  kind === "stdio"
    ? new StdioClientTransport({ command: target, args: rest, env: process.env, stderr: "inherit" })
    : new StreamableHTTPClientTransport(new URL(target));

// TS_CLIENT_ELICIT=accept|decline: the client declares elicitation and answers every
// elicitation with {approved: true} (accept) or declines it; unset, it cannot elicit.
const elicit = process.env.TS_CLIENT_ELICIT;
const client = new Client(
  { name: "ageflow-tests-ts-client", version: "1.0.0" },
  elicit ? { capabilities: { elicitation: { form: {} } } } : {},
);
const elicitations = [];
if (elicit) {
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicitations.push(request.params);
    return elicit === "accept" ? { action: "accept", content: { approved: true } } : { action: "decline" };
  });
}
const notifications = [];
client.fallbackNotificationHandler = async (notification) => {
  notifications.push(notification);
};

function answer(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

async function handle(request) {
  switch (request.method) {
    case "initialize":
      return {
        serverInfo: client.getServerVersion(),
        capabilities: client.getServerCapabilities(),
      };
    case "tools/list":
      return await client.listTools();
    case "tools/call":
      return await client.callTool({ name: request.name, arguments: request.arguments ?? {} });
    case "logging/setLevel":
      return await client.setLoggingLevel(request.level);
    case "ping":
      return await client.ping();
    case "tasks/call": {
      const messages = [];
      const stream = client.experimental.tasks.callToolStream(
        { name: request.name, arguments: request.arguments ?? {} },
        undefined,
        { task: { ttl: 60000 } },
      );
      for await (const message of stream) {
        messages.push(
          message.type === "error"
            ? { type: "error", error: { code: message.error.code ?? null, message: String(message.error.message) } }
            : message,
        );
      }
      return { messages };
    }
    case "tasks/start":
      return await client.request(
        {
          method: "tools/call",
          params: { name: request.name, arguments: request.arguments ?? {}, task: { ttl: 60000 } },
        },
        CreateTaskResultSchema,
      );
    case "tasks/get":
      return await client.experimental.tasks.getTask(request.taskId);
    case "tasks/result":
      return await client.experimental.tasks.getTaskResult(request.taskId, CallToolResultSchema);
    case "tasks/list":
      return await client.experimental.tasks.listTasks();
    case "tasks/cancel":
      return await client.experimental.tasks.cancelTask(request.taskId);
    case "notifications":
      return { notifications: notifications.splice(0) };
    case "elicitations":
      return { elicitations: elicitations.splice(0) };
    default:
      throw new Error(`unknown driver method ${request.method}`);
  }
}

try {
  await client.connect(transport);
} catch (error) {
  answer({ ok: false, error: { code: error.code ?? null, message: String(error.message) } });
  process.exit(2);
}
answer({ ok: true, result: { connected: true } });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    answer({ ok: true, result: await handle(JSON.parse(line)) });
  } catch (error) {
    answer({ ok: false, error: { code: error.code ?? null, message: String(error.message) } });
  }
}
await client.close();
