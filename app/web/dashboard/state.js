/*
 * The page's shared state (window.TickerDashboard.state): the last /v1/clusters answer, what the board shows,
 * what is held while the editor reads, the poll's bookkeeping and the "new since you looked" time.
 * The board's own model (its columns and cards) is in board.js; the search's in search.js.
 */

export const state = {
  data: null, // last /v1/clusters body received
  shown: null, // the body the board shows (data, unless held while the editor reads)
  pending: null, // a body held while the editor reads
  rawText: "", // to skip re-handling an identical 200
  etag: null,
  serverOffsetMs: 0, // server clock (generated_at) minus ours, for time windows
  lookedAt: null, // ms (server clock): stories first seen at or after it are "new since you looked"
  newCount: null, // the server's count of them; null until known
  newSeq: 0,
  boardCount: null, // { shown, total } of the board's last filtering
  inFlight: null,
  timer: null,
  online: null,
};
