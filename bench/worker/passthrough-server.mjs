// Baseline for the worker benchmark: a WebSocket server that parses each Twilio media
// message, decodes its μ-law payload to 16-bit PCM and sends the frame straight back. It
// times each message the way the worker's `voxfleet_worker_frame_processing_seconds` does,
// and prints `{ "port": n }` on start and `{ "samplesMs": [...] }` after the stream's `stop`.
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';

/** Decodes one G.711 μ-law byte to a linear 16-bit sample. */
function decodeMulawSample(byte) {
  const value = ~byte & 0xff;
  const exponent = (value >> 4) & 0x07;
  const magnitude = (((value & 0x0f) << 3) + 0x84) << exponent;
  return value & 0x80 ? 0x84 - magnitude : magnitude - 0x84;
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
const samplesMs = [];

server.on('connection', (socket) => {
  socket.on('message', (data) => {
    const startedAt = performance.now();
    const message = JSON.parse(data.toString('utf8'));
    if (message.event === 'media') {
      const payload = Buffer.from(message.media.payload, 'base64');
      const pcm = new Int16Array(payload.length);
      for (let i = 0; i < payload.length; i++) pcm[i] = decodeMulawSample(payload[i]);
      socket.send(
        JSON.stringify({ event: 'media', streamSid: message.streamSid, media: message.media }),
      );
    }
    samplesMs.push(performance.now() - startedAt);
    if (message.event === 'stop') {
      process.stdout.write(`${JSON.stringify({ samplesMs })}\n`);
      socket.close(1000);
    }
  });
});

server.on('listening', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
