/** The check moved to the bus's route manager; membership re-exports it for its old importers. */
export { UnheardPeersCheck } from '../bus/index.js';
