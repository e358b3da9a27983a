/** Settings of the LiveKit server and SIP trunk that `POST /livekit/dialout` uses. */
export interface LiveKitConfig {
  /** Server URL, such as `wss://example.livekit.cloud`; the SDK turns ws(s) into http(s). */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Outbound SIP trunk (`ST_...`) on which the SIP participant is created. */
  sipTrunkId: string;
}
