//! Clients for the outside services the server depends on. Each speaks its provider's documented protocol and sorts
//! every failure into the outcomes its caller has to treat differently (refused, maybe done, surely not done).

pub mod toss;
