// What relay edges count, at the ends (relay-service.ts) and in the middle (relay-middle.ts).
export const RELAY_COUNTERS = [
  'relay_dials',
  'relay_malformed',
  'relay_unexpected_op',
  'relay_query_timeouts',
  'relay_tunnels_opening',
  'relay_invites_refused',
  'relay_handshake_timeouts',
  'relay_handshakes_refused',
  'relay_frames_rejected', // a sealed frame failed authentication (forged, altered or replayed)
  'relay_links_up',
  'relay_links_closed',
  'relay_middle_opened',
  'relay_middle_refused_refused',
  'relay_middle_refused_noroute',
  'relay_middle_refused_busy',
  'relay_middle_unknown_tunnel',
  'relay_middle_overload_closed',
  'relay_middle_control_forwarded',
  'relay_middle_data_dropped_budget',
  'relay_middle_data_forwarded',
  'relay_middle_dropped_link_gone',
] as const;
export type RelayCounter = (typeof RELAY_COUNTERS)[number];
