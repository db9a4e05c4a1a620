//! A request-response codec for any pair of [`WireMessage`]s: the whole stream is one JSON
//! document, read with a hard limit (the writer closes its side after writing).

use std::{io, marker::PhantomData};

use dex_protocol::WireMessage;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

/// JSON codec for a protocol whose requests are `Req` and answers `Resp`. Sizes are limited
/// by each type's [`WireMessage::MAX_SIZE`], checked while reading, before parsing.
pub struct JsonCodec<Req, Resp> {
    _types: PhantomData<fn() -> (Req, Resp)>,
}

impl<Req, Resp> std::fmt::Debug for JsonCodec<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsonCodec")
    }
}

impl<Req, Resp> Default for JsonCodec<Req, Resp> {
    fn default() -> Self {
        JsonCodec {
            _types: PhantomData,
        }
    }
}

impl<Req, Resp> Clone for JsonCodec<Req, Resp> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

async fn read_limited<T, M>(io: &mut T) -> io::Result<M>
where
    T: AsyncRead + Unpin + Send,
    M: WireMessage,
{
    let mut bytes = Vec::new();
    // One byte over the limit is enough to know it is too large.
    io.take(M::MAX_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .await?;
    M::decode(&bytes).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
}

async fn write_message<T, M>(io: &mut T, message: M) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    M: WireMessage,
{
    let bytes = message
        .encode()
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
    io.write_all(&bytes).await?;
    io.close().await
}

impl<Req, Resp> libp2p::request_response::Codec for JsonCodec<Req, Resp>
where
    Req: WireMessage,
    Resp: WireMessage,
{
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Req>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_limited(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Resp>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_limited(io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Req) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Resp,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, res).await
    }
}
