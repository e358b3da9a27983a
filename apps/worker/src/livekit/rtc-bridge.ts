/**
 * Joins a LiveKit room as the agent with `@livekit/rtc-node` and bridges the SIP
 * participant's audio to the worker's own media stream, in Twilio Media Streams framing, on
 * loopback. The call then runs through the same path as a carrier stream: token check,
 * engine session, marks and the result.
 *
 * NOTE: this file has never run against a real LiveKit room, because none is reachable in
 * the test setup. The tests cover the Twirp side of a dial-out, not this media side.
 */
import { randomUUID } from 'node:crypto';
import { FRAME_SAMPLES, TELEPHONY_SAMPLE_RATE, decodeMulaw, encodeMulaw } from '@voxfleet/audio';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  type RemoteParticipant,
  type RemoteTrack,
} from '@livekit/rtc-node';
import WebSocket from 'ws';
import type {
  LiveKitMediaConnector,
  LiveKitMediaJoinOptions,
  LiveKitMediaSession,
} from './media.js';

export class RtcMediaConnector implements LiveKitMediaConnector {
  async join(options: LiveKitMediaJoinOptions): Promise<LiveKitMediaSession> {
    const bridge = new RtcBridge(options);
    try {
      await bridge.open();
    } catch (err) {
      await bridge.close();
      throw err;
    }
    return bridge;
  }
}

class RtcBridge implements LiveKitMediaSession {
  readonly #options: LiveKitMediaJoinOptions;
  readonly #room = new Room();
  readonly #source = new AudioSource(TELEPHONY_SAMPLE_RATE, 1);
  readonly #streamSid = `LK${randomUUID().replaceAll('-', '')}`;
  #socket: WebSocket | null = null;
  #sequence = 0;
  /** The participant whose audio is the caller's; the first one subscribed when not given. */
  #callerIdentity: string | null = null;
  /** Worker messages are played in order: each waits for the one before it. */
  #playback: Promise<void> = Promise.resolve();
  #closing: Promise<void> | null = null;

  constructor(options: LiveKitMediaJoinOptions) {
    this.#options = options;
  }

  async open(): Promise<void> {
    const { url, token, sipIdentity, log } = this.#options;
    this.#room.on(RoomEvent.TrackSubscribed, (track, _publication, participant) => {
      if (track.kind !== TrackKind.KIND_AUDIO || this.#callerIdentity !== null) return;
      if (sipIdentity !== null && participant.identity !== sipIdentity) return;
      this.#callerIdentity = participant.identity;
      void this.#pumpCallerAudio(track);
    });
    this.#room.on(RoomEvent.ParticipantDisconnected, (participant: RemoteParticipant) => {
      if (participant.identity !== this.#callerIdentity) return;
      log.info({ participant: participant.identity }, 'caller left the room');
      this.#sendJson({ event: 'stop', streamSid: this.#streamSid, stop: {} });
      void this.close();
    });
    this.#room.on(RoomEvent.Disconnected, () => void this.close());

    await this.#room.connect(url, token, { autoSubscribe: true, dynacast: false });
    const track = LocalAudioTrack.createAudioTrack('agent', this.#source);
    const publishOptions = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
    await this.#room.localParticipant?.publishTrack(track, publishOptions);
    await this.#openStream();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = null;
    if (socket !== null && socket.readyState === socket.OPEN) socket.close(1000, 'room left');
    await this.#room.disconnect().catch((err: unknown) => {
      this.#options.log.warn({ err }, 'livekit room disconnect failed');
    });
  }

  async #openStream(): Promise<void> {
    const socket = new WebSocket(this.#options.streamUrl);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    this.#socket = socket;
    socket.on('message', (data) => {
      const text = data.toString();
      this.#playback = this.#playback
        .then(() => this.#onWorkerMessage(text))
        .catch((err: unknown) => this.#options.log.warn({ err }, 'livekit playback failed'));
    });
    socket.on('close', () => void this.close());
    socket.on('error', (err) => this.#options.log.warn({ err }, 'livekit bridge socket error'));
    this.#sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.#sendJson({
      event: 'start',
      sequenceNumber: this.#nextSequence(),
      streamSid: this.#streamSid,
      start: {
        streamSid: this.#streamSid,
        callSid: this.#options.room,
        tracks: ['inbound'],
        customParameters: { callId: this.#options.callId },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
  }

  /** Reads the caller's audio at 8 kHz mono and sends it to the worker in 20 ms frames. */
  async #pumpCallerAudio(track: RemoteTrack): Promise<void> {
    const stream = new AudioStream(track, TELEPHONY_SAMPLE_RATE, 1);
    let pending = new Int16Array(0);
    let chunk = 0;
    const reader = stream.getReader();
    for (;;) {
      const { done, value: frame } = await reader.read();
      if (done || this.#closing !== null) break;
      const joined = new Int16Array(pending.length + frame.data.length);
      joined.set(pending);
      joined.set(frame.data, pending.length);
      let offset = 0;
      for (; offset + FRAME_SAMPLES <= joined.length; offset += FRAME_SAMPLES) {
        chunk++;
        const payload = encodeMulaw(joined.subarray(offset, offset + FRAME_SAMPLES));
        this.#sendJson({
          event: 'media',
          sequenceNumber: this.#nextSequence(),
          streamSid: this.#streamSid,
          media: {
            track: 'inbound',
            chunk: String(chunk),
            timestamp: String(chunk * 20),
            payload: Buffer.from(payload).toString('base64'),
          },
        });
      }
      pending = joined.slice(offset);
    }
  }

  /** Plays the bot's audio into the room; a mark is echoed once the audio before it played. */
  async #onWorkerMessage(text: string): Promise<void> {
    let message: { event?: unknown; media?: { payload?: unknown }; mark?: { name?: unknown } };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return;
    }
    if (message.event === 'media' && typeof message.media?.payload === 'string') {
      const pcm = decodeMulaw(Buffer.from(message.media.payload, 'base64'));
      await this.#source.captureFrame(new AudioFrame(pcm, TELEPHONY_SAMPLE_RATE, 1, pcm.length));
    } else if (message.event === 'mark' && typeof message.mark?.name === 'string') {
      await this.#source.waitForPlayout();
      this.#sendJson({
        event: 'mark',
        streamSid: this.#streamSid,
        mark: { name: message.mark.name },
      });
    } else if (message.event === 'clear') {
      this.#source.clearQueue();
    }
  }

  #sendJson(message: unknown): void {
    const socket = this.#socket;
    if (socket !== null && socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  }

  #nextSequence(): string {
    this.#sequence++;
    return String(this.#sequence);
  }
}
