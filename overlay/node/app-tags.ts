// Application tags of routed messages. Tags below FIRST_USER_APP are the overlay's own; `send` and
// `onMessage` refuse them. Users (the IP forwarder, vIP resolution, ...) pick tags from 16 up.
export const APP_FIND = 1; // FIND: "who is closest to this position?" (joins, far links)
export const APP_FOUND = 2; // FOUND: answer to FIND, with the answerer's near set
export const APP_SIGNAL = 3; // opaque Connector signalling (SDP offer/answer, ICE candidates)
export const APP_DHT = 4; // DHT requests (client -> primary) and answers
export const APP_RELAY = 5; // relay-edge neighbour queries (overlay/relay/relay-messages.ts)
export const FIRST_USER_APP = 16;

/** Kinds of LOCAL frames (link-local overlay control). */
export const LOCAL_DHT = 1; // DHT primary <-> replica traffic
export const LOCAL_RELAY = 2; // relay-edge tunnel frames (overlay/relay/relay-header.ts)
