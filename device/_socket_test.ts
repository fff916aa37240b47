import assert from "node:assert/strict";
import { DeviceSocket, HandshakeError } from "./_socket.ts";

/** A loopback WebSocket server that echoes, and records how each socket closed. */
async function echoServer() {
  const closes: { code: number; reason: string; wasClean: boolean }[] = [];
  const closed = Promise.withResolvers<void>();
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
  }, (req) => {
    if (new URL(req.url).pathname === "/missing") return new Response("no", { status: 404 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => {
      if (e.data === "close-4010") socket.close(4010, "session ended");
      else socket.send(e.data);
    };
    socket.onclose = (e) => {
      closes.push({ code: e.code, reason: e.reason, wasClean: e.wasClean });
      closed.resolve();
    };
    return response;
  });
  const { port } = await listening.promise;
  return {
    url: `ws://127.0.0.1:${port}/socket`,
    closes,
    closed: closed.promise,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function connect(url: string) {
  const messages: string[] = [];
  const next = () =>
    new Promise<string>((resolve) => {
      const wait = () => messages.length ? resolve(messages.shift()!) : setTimeout(wait, 5);
      wait();
    });
  return DeviceSocket.connect(url, { onMessage: (t) => messages.push(t) }).then((socket) => ({
    socket,
    next,
  }));
}

Deno.test("DeviceSocket sends and receives text, small and large", async () => {
  await using server = await echoServer();
  const { socket, next } = await connect(server.url);
  socket.send("héllo");
  assert.equal(await next(), "héllo");
  const big = "x".repeat(2_500_000);
  socket.send(big);
  assert.equal(await next(), big);
  assert.deepEqual(await socket.close(), { code: 1000, reason: "" });
  await server.closed;
  assert.equal(server.closes[0].code, 1000);
});

Deno.test("DeviceSocket.drop() cuts the connection without a close frame", async () => {
  await using server = await echoServer();
  const { socket, next } = await connect(server.url);
  socket.send("ping");
  assert.equal(await next(), "ping");
  socket.drop();
  assert.equal((await socket.closed).code, 1006);
  assert.equal(socket.send("late"), false);
  await server.closed;
  assert.equal(server.closes[0].wasClean, false);
});

Deno.test("DeviceSocket reports the server's close code", async () => {
  await using server = await echoServer();
  const { socket } = await connect(server.url);
  socket.send("close-4010");
  assert.deepEqual(await socket.closed, { code: 4010, reason: "session ended" });
});

Deno.test("DeviceSocket.connect() fails with the HTTP status of a refused upgrade", async () => {
  await using server = await echoServer();
  await assert.rejects(
    () => connect(server.url.replace("/socket", "/missing")),
    (e: unknown) => e instanceof HandshakeError && e.status === 404,
  );
});

Deno.test("DeviceSocket stays open while the server answers its pings", async () => {
  await using server = await echoServer();
  const socket = await DeviceSocket.connect(server.url, {
    onMessage: () => {},
    pingIntervalMs: 20,
    idleTimeoutMs: 150,
  });
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(socket.open, true);
  await socket.close();
});
