/**
 * A reference for the gateway overhead benchmark: a TCP pipe in Node, no HTTP at all. Each
 * client connection gets its own connection to the upstream and bytes are copied both ways
 * as they arrive. What any relay written in Node can at best do on this runtime and host:
 * the gateway's distance from it is its HTTP handling, nginx's distance from it is the runtime.
 * Prints one JSON line with its URL; stops on SIGTERM.
 */
import net from 'node:net';

const upstream = new URL(process.argv[2] ?? 'http://127.0.0.1:1');

function pipe(from: net.Socket, to: net.Socket): void {
  from.on('data', (bytes: Buffer) => {
    if (!to.write(bytes)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('close', () => to.destroy());
  from.on('error', () => to.destroy());
}

const server = net.createServer({ noDelay: true }, (client) => {
  const backend = net.connect({ host: upstream.hostname, port: Number(upstream.port), noDelay: true });
  pipe(client, backend);
  pipe(backend, client);
});
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(
    `${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` })}\n`,
  ),
);
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
