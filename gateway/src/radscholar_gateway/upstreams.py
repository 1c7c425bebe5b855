"""gRPC channels to the services, opened once per gateway process."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import grpc


@dataclass
class Channels:
    dicomstore: grpc.aio.Channel
    labeling: grpc.aio.Channel
    training: grpc.aio.Channel
    radiomics: grpc.aio.Channel
    stats: grpc.aio.Channel

    @classmethod
    def open(cls, addresses: dict[str, str], interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> Channels:
        return cls(
            **{
                name: grpc.aio.insecure_channel(address, interceptors=list(interceptors))
                for name, address in addresses.items()
            }
        )

    def items(self) -> Iterable[tuple[str, grpc.aio.Channel]]:
        return vars(self).items()

    async def close(self) -> None:
        for _, channel in self.items():
            await channel.close()
