//! A client/server pair of connections with payloads passed directly.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;

use ssh_connection::{
    ApiError, ChannelHandle, Config, Connection, Error, Event, ProtocolError, Role,
};
use ssh_wire::Encode;
use ssh_wire::messages::{ChannelType, ConnectionMessage, DisconnectReason};

/// Two connections and the events each produced.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub client_events: VecDeque<Event>,
    pub server_events: VecDeque<Event>,
    /// Every payload moved, as (from_client, bytes).
    pub log: Vec<(bool, Vec<u8>)>,
}

impl Pair {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        Self {
            client: Connection::new(Role::Client, config.clone()),
            server: Connection::new(Role::Server, config),
            client_events: VecDeque::new(),
            server_events: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// Moves payloads both ways until neither side has any; collects
    /// events. Panics on any error.
    pub fn pump(&mut self) {
        self.try_pump().expect("pump");
    }

    pub fn try_pump(&mut self) -> Result<(), Error> {
        let mut buf = Vec::new();
        loop {
            let mut moved = false;
            while self.client.poll_outgoing(&mut buf) {
                self.log.push((true, buf.clone()));
                self.server.handle_payload(&buf)?;
                moved = true;
            }
            while self.server.poll_outgoing(&mut buf) {
                self.log.push((false, buf.clone()));
                self.client.handle_payload(&buf)?;
                moved = true;
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push_back(e);
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push_back(e);
            }
            if !moved {
                return Ok(());
            }
        }
    }

    /// Decoded messages of the log, for assertions.
    pub fn messages(&self, from_client: bool) -> Vec<ConnectionMessage<'_>> {
        self.log
            .iter()
            .filter(|(c, _)| *c == from_client)
            .map(|(_, p)| ConnectionMessage::decode(p).unwrap())
            .collect()
    }

    /// Opens a channel of `kind` from the client, accepts it on the server,
    /// and returns (client handle, server handle).
    pub fn open(&mut self, kind: ChannelType) -> (ChannelHandle, ChannelHandle) {
        let c = self.client.open_channel(kind).unwrap();
        self.pump();
        let s = match self.server_events.pop_front() {
            Some(Event::OpenRequest { handle, .. }) => handle,
            other => panic!("expected OpenRequest, got {other:?}"),
        };
        self.server.accept(s).unwrap();
        self.pump();
        assert_eq!(
            self.client_events.pop_front(),
            Some(Event::OpenConfirmed { handle: c })
        );
        (c, s)
    }

    pub fn open_session(&mut self) -> (ChannelHandle, ChannelHandle) {
        self.open(ChannelType::Session)
    }
}

/// Every byte a connection buffered for `h`.
pub fn read_all(conn: &mut Connection, h: ChannelHandle) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(h, &mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// A direct-tcpip channel type.
pub fn tcpip() -> ChannelType {
    ChannelType::DirectTcpip {
        host: "localhost".into(),
        port: 80,
        originator_address: "127.0.0.1".into(),
        originator_port: 5555,
    }
}

/// The error of `r`, which must be a protocol error (PROTOCOL_ERROR).
pub fn expect_protocol(r: Result<(), Error>) -> ProtocolError {
    match r {
        Err(Error::Protocol(e)) => {
            assert_eq!(e.disconnect_reason(), DisconnectReason::PROTOCOL_ERROR);
            e
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The error is sticky: the connection stays failed, the API refuses.
pub fn assert_failed(conn: &mut Connection, e: &ProtocolError) {
    let again = conn.handle_payload(&ssh_wire::messages::RequestFailure.to_bytes());
    assert_eq!(again, Err(Error::Protocol(e.clone())));
    assert_eq!(
        conn.open_channel(ChannelType::Session),
        Err(ApiError::ConnectionFailed)
    );
    assert_eq!(conn.failure(), Some(e));
}
