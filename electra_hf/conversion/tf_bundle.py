"""TensorFlow checkpoints (tensor bundles) read and written without TensorFlow.

A checkpoint `<prefix>` is `<prefix>.index`, a LevelDB-format table (blocks of prefix-compressed key/value
entries, an index block, a 48-byte footer) mapping each variable name to a `BundleEntryProto` (dtype, shape,
shard, offset, size, masked CRC-32C of the bytes), with the `BundleHeaderProto` under the empty key; and
`<prefix>.data-NNNNN-of-MMMMM`, the shards holding the raw little-endian tensor bytes. Written here by hand
because the only library for it is TensorFlow itself (a 500 MB dependency for a few hundred lines).
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import google_crc32c
import torch

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the magic number
BLOCK_TRAILER = 5  # compression type (1 byte) + masked CRC-32C
BLOCK_SIZE = 4096  # TensorFlow's table options: 4 KiB blocks, a restart point every 16 keys
RESTART_INTERVAL = 16

# DataType enum (tensorflow/core/framework/types.proto) -> torch dtype
TF_DTYPES = {1: torch.float32, 2: torch.float64, 3: torch.int32, 4: torch.uint8, 5: torch.int16, 6: torch.int8,
             9: torch.int64, 10: torch.bool, 14: torch.bfloat16, 19: torch.float16}
TORCH_TO_TF = {dtype: code for code, dtype in TF_DTYPES.items()}
TF_DTYPE_NAMES = {7: "string", 8: "complex64", 17: "uint16", 18: "complex128", 20: "resource", 21: "variant",
                  22: "uint32", 23: "uint64"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: missing, truncated, corrupted or of an unsupported kind."""


def masked_crc32c(data: bytes) -> int:
    """LevelDB's masked CRC-32C (rotate right by 15, add a constant), as TensorFlow stores checksums."""
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# --- protobuf wire format: the few messages of a bundle ---------------------------------------------------

def _varint(buf: bytes, pos: int, where: str) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise CheckpointError(f"{where}: truncated or malformed varint.")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf: bytes, where: str) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a serialized message: ints for varint/fixed fields, bytes for the others."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos, where)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, where)
        elif wire == 5:
            if pos + 4 > len(buf):
                raise CheckpointError(f"{where}: truncated fixed32 field.")
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 1:
            if pos + 8 > len(buf):
                raise CheckpointError(f"{where}: truncated fixed64 field.")
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos, where)
            if pos + length > len(buf):
                raise CheckpointError(f"{where}: truncated field.")
            value, pos = bytes(buf[pos:pos + length]), pos + length
        else:
            raise CheckpointError(f"{where}: unsupported protobuf wire type {wire}.")
        yield number, value


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf encodes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | bytes, fixed32: bool = False) -> bytes:
    if isinstance(value, bytes):
        return _encode_varint(number << 3 | 2) + _encode_varint(len(value)) + value
    if fixed32:
        return _encode_varint(number << 3 | 5) + struct.pack("<I", value)
    return _encode_varint(number << 3) + _encode_varint(value)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True)
class TensorEntry:
    """Where a tensor is: its dtype code, shape, shard, byte offset and size, masked CRC-32C."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int | None

    @property
    def supported(self) -> bool:
        return self.dtype in TF_DTYPES

    @property
    def dtype_name(self) -> str:
        return str(TF_DTYPES[self.dtype]).replace("torch.", "") if self.supported else TF_DTYPE_NAMES.get(
            self.dtype, f"dtype {self.dtype}")

    @classmethod
    def parse(cls, name: str, buf: bytes, where: str) -> TensorEntry:
        values: dict = {"dtype": 0, "shape": (), "shard": 0, "offset": 0, "size": 0, "crc32c": None}
        for number, value in _proto_fields(buf, where):
            if isinstance(value, bytes) != (number in (2, 7)):
                raise CheckpointError(f"{where}: field {number} has the wrong wire type (corrupted entry).")
            if number == 1:
                values["dtype"] = value
            elif number == 2:
                dims = []
                for dim_number, dim in _proto_fields(value, where):
                    if dim_number == 3 and dim:
                        raise CheckpointError(f"{where}: tensor {name!r} has an unknown rank.")
                    if dim_number == 2:
                        if not isinstance(dim, bytes):
                            raise CheckpointError(f"{where}: malformed shape of {name!r}.")
                        sizes = [v for n, v in _proto_fields(dim, where) if n == 1]
                        if any(isinstance(v, bytes) for v in sizes):
                            raise CheckpointError(f"{where}: malformed shape of {name!r}.")
                        dims.append(_signed(sizes[0]) if sizes else 0)
                values["shape"] = tuple(dims)
            elif number in (3, 4, 5):
                values[{3: "shard", 4: "offset", 5: "size"}[number]] = value
            elif number == 6:
                values["crc32c"] = value
            elif number == 7:
                raise CheckpointError(f"{where}: {name!r} is a partitioned (sliced) variable; not supported.")
        if any(d < 0 for d in values["shape"]):
            raise CheckpointError(f"{where}: tensor {name!r} has a negative dimension {values['shape']}.")
        return cls(name=name, **values)

    def serialize(self) -> bytes:
        shape = b"".join(_field(2, _field(1, d) if d else b"") for d in self.shape)
        out = _field(1, self.dtype) + _field(2, shape)
        for number, value in ((3, self.shard), (4, self.offset), (5, self.size)):
            if value:
                out += _field(number, value)
        return out + _field(6, self.crc32c, fixed32=True)


# --- LevelDB table ----------------------------------------------------------------------------------------

MAX_KEY_BYTES = 4096  # variable names are far shorter; bounds what a crafted index can make us build


def _block_entries(block: bytes, where: str) -> Iterator[tuple[bytes, bytes]]:
    """The block's entries, keys strictly increasing (as a table's are) and at most MAX_KEY_BYTES long."""
    if len(block) < 4:
        raise CheckpointError(f"{where}: block too short.")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * num_restarts
    if end < 0:
        raise CheckpointError(f"{where}: corrupted block (restart array).")
    pos, key, first = 0, b"", True
    while pos < end:
        shared, pos = _varint(block, pos, where)
        unshared, pos = _varint(block, pos, where)
        value_length, pos = _varint(block, pos, where)
        if shared > len(key) or pos + unshared + value_length > end or shared + unshared > MAX_KEY_BYTES:
            raise CheckpointError(f"{where}: corrupted block entry.")
        previous, key = key, key[:shared] + block[pos:pos + unshared]
        if key <= previous and not first:
            raise CheckpointError(f"{where}: keys out of order (corrupted index).")
        first = False
        pos += unshared
        yield key, block[pos:pos + value_length]
        pos += value_length


def _block_handle(buf: bytes, pos: int, where: str) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos, where)
    size, pos = _varint(buf, pos, where)
    return offset, size, pos


def _read_table(path: str) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of a LevelDB table file, in key order, with its block checksums verified."""
    file_size = os.path.getsize(path)
    if file_size < FOOTER_SIZE:
        raise CheckpointError(f"{path}: too short to be a checkpoint index ({file_size} bytes).")
    with open(path, "rb") as f:
        f.seek(file_size - FOOTER_SIZE)
        footer = f.read(FOOTER_SIZE)
        if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
            raise CheckpointError(f"{path}: not a TensorFlow checkpoint index (bad magic number; truncated?).")

        def read_block(offset: int, size: int) -> bytes:
            if offset + size + BLOCK_TRAILER > file_size - FOOTER_SIZE:
                raise CheckpointError(f"{path}: a block lies outside the file (truncated or corrupted).")
            f.seek(offset)
            data = f.read(size + BLOCK_TRAILER)
            if data[size] != 0:
                raise CheckpointError(f"{path}: compressed blocks (type {data[size]}) are not supported.")
            if struct.unpack_from("<I", data, size + 1)[0] != masked_crc32c(data[:size + 1]):
                raise CheckpointError(f"{path}: block checksum mismatch at offset {offset} (corrupted file).")
            return data[:size]

        _, _, pos = _block_handle(footer, 0, path)  # the metaindex block: empty in TensorFlow's bundles
        index_offset, index_size, _ = _block_handle(footer, pos, path)
        next_offset, key_bytes = 0, 0
        for _, handle in _block_entries(read_block(index_offset, index_size), path):
            offset, size, _ = _block_handle(handle, 0, path)
            if offset < next_offset:  # data blocks follow one another: each is read once
                raise CheckpointError(f"{path}: overlapping blocks (corrupted index).")
            next_offset = offset + size + BLOCK_TRAILER
            for key, value in _block_entries(read_block(offset, size), path):
                key_bytes += len(key)
                if key_bytes > 64 * file_size + (1 << 20):  # prefix sharing cannot expand names this much
                    raise CheckpointError(f"{path}: implausibly many or long variable names (corrupted index).")
                yield key, value


class _BlockWriter:
    def __init__(self, restart_interval: int):
        self.buffer, self.restarts, self.count, self.last = bytearray(), [0], 0, b""
        self.restart_interval = restart_interval

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.count % self.restart_interval == 0:
            if self.count:
                self.restarts.append(len(self.buffer))
        else:
            while shared < min(len(key), len(self.last)) and key[shared] == self.last[shared]:
                shared += 1
        self.buffer += (_encode_varint(shared) + _encode_varint(len(key) - shared) + _encode_varint(len(value))
                        + key[shared:] + value)
        self.last, self.count = key, self.count + 1

    def finish(self) -> bytes:
        return bytes(self.buffer) + b"".join(struct.pack("<I", r) for r in self.restarts) + struct.pack(
            "<I", len(self.restarts))


def _write_table(path: str, items: Iterable[tuple[bytes, bytes]]) -> None:
    with open(path, "wb") as f:
        def write_block(contents: bytes) -> bytes:
            handle = _encode_varint(f.tell()) + _encode_varint(len(contents))
            f.write(contents + b"\x00" + struct.pack("<I", masked_crc32c(contents + b"\x00")))
            return handle

        index, block = _BlockWriter(1), _BlockWriter(RESTART_INTERVAL)
        for key, value in items:
            block.add(key, value)
            if len(block.buffer) >= BLOCK_SIZE:
                index.add(block.last, write_block(block.finish()))
                block = _BlockWriter(RESTART_INTERVAL)
        if block.count:
            index.add(block.last, write_block(block.finish()))
        metaindex = write_block(_BlockWriter(1).finish())
        handles = metaindex + write_block(index.finish())
        f.write(handles + b"\x00" * (40 - len(handles)) + struct.pack("<Q", TABLE_MAGIC))


# --- checkpoints ------------------------------------------------------------------------------------------

def resolve_prefix(path: str) -> str:
    """The checkpoint prefix of `path`: a prefix itself, a `.index`/`.data-*` file of one, or a directory
    (the one its `checkpoint` file names, which must exist; without that file, its only or newest `*.index`)."""
    path = re.sub(r"\.(index|data-\d+-of-\d+|meta)$", "", path)
    if os.path.isdir(path):
        state = os.path.join(path, "checkpoint")
        if os.path.isfile(state):
            with open(state) as f:
                match = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$', f.read(), re.M)
            if match:
                named = match.group(1)
                candidate = named if os.path.isabs(named) else os.path.join(path, named)
                if os.path.isfile(candidate + ".index"):
                    return candidate
                local = os.path.join(path, os.path.basename(named))  # a checkpoint moved from where it was written
                if os.path.isfile(local + ".index"):
                    return local
                present = sorted(n[:-len(".index")] for n in os.listdir(path) if n.endswith(".index"))
                raise CheckpointError(
                    f"{state} names {named}, which is not there (no {os.path.basename(named)}.index)"
                    + (f"; to convert another, pass its prefix: {', '.join(present[:3])}" if present else "") + ".")
        indexes = [os.path.join(path, n[:-len(".index")]) for n in os.listdir(path) if n.endswith(".index")]
        if not indexes:
            raise CheckpointError(f"{path}: no TensorFlow checkpoint (no *.index file) in this directory.")
        step = lambda p: int(m.group(1)) if (m := re.search(r"-(\d+)$", p)) else -1  # noqa: E731
        return max(indexes, key=lambda p: (step(p), os.path.getmtime(p + ".index")))
    if not os.path.isfile(path + ".index"):
        raise CheckpointError(f"no checkpoint at {path!r} (no {os.path.basename(path)}.index).")
    return path


class TFCheckpointReader:
    """The tensors of a TensorFlow checkpoint, read lazily one at a time and checked against their CRC-32C.

        reader = TFCheckpointReader("electra_small/")      # a directory, a prefix or its .index file
        reader.entries["electra/embeddings/word_embeddings"].shape
        tensor = reader.get_tensor("electra/embeddings/word_embeddings")   # a torch.Tensor
    """

    def __init__(self, path: str, verify_checksums: bool = True):
        self.prefix = resolve_prefix(path)
        self.verify_checksums = verify_checksums
        self.entries: dict[str, TensorEntry] = {}
        self.num_shards = 1
        header_seen = False
        for key, value in _read_table(self.prefix + ".index"):
            if key == b"":
                header_seen = True
                for number, field in _proto_fields(value, self.prefix + ".index header"):
                    if number in (1, 2) and not isinstance(field, int):
                        raise CheckpointError(f"{self.prefix}.index: malformed bundle header.")
                    if number == 1:
                        self.num_shards = field
                    elif number == 2 and field != 0:
                        raise CheckpointError(f"{self.prefix}: big-endian checkpoints are not supported.")
                continue
            name = key.decode("utf-8", errors="replace")
            self.entries[name] = TensorEntry.parse(name, value, f"{self.prefix}.index entry {name!r}")
        if not header_seen:
            raise CheckpointError(f"{self.prefix}.index has no bundle header: not a TensorFlow checkpoint.")
        self._shard_sizes = {}
        for shard in range(self.num_shards):
            data = self.shard_path(shard)
            if not os.path.isfile(data):
                raise CheckpointError(f"{self.prefix}: missing data file {os.path.basename(data)}.")
            self._shard_sizes[shard] = os.path.getsize(data)
        for entry in self.entries.values():
            self._check_bounds(entry)

    def shard_path(self, shard: int) -> str:
        return f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}"

    def _check_bounds(self, entry: TensorEntry) -> None:
        if entry.shard >= self.num_shards:
            raise CheckpointError(f"{self.prefix}: {entry.name!r} is in shard {entry.shard} of {self.num_shards}.")
        if entry.offset + entry.size > self._shard_sizes[entry.shard]:
            raise CheckpointError(f"{self.prefix}: {entry.name!r} ends at byte {entry.offset + entry.size} but "
                                  f"{os.path.basename(self.shard_path(entry.shard))} has "
                                  f"{self._shard_sizes[entry.shard]} (truncated?).")
        if entry.supported:
            expected = math.prod(entry.shape) * TF_DTYPES[entry.dtype].itemsize
            if expected != entry.size:
                raise CheckpointError(f"{self.prefix}: {entry.name!r} has {entry.size} bytes for shape "
                                      f"{list(entry.shape)} of {entry.dtype_name} ({expected} expected).")

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def get_tensor(self, name: str) -> torch.Tensor:
        if name not in self.entries:
            raise KeyError(f"{name!r} is not in {self.prefix}.")
        entry = self.entries[name]
        if not entry.supported:
            raise CheckpointError(f"{self.prefix}: {name!r} is a {entry.dtype_name} tensor; only numeric tensors "
                                  "can be read.")
        with open(self.shard_path(entry.shard), "rb") as f:
            f.seek(entry.offset)
            data = f.read(entry.size)
        if len(data) != entry.size:
            raise CheckpointError(f"{self.prefix}: {name!r} is cut short (truncated data file).")
        if self.verify_checksums and entry.crc32c is not None and masked_crc32c(data) != entry.crc32c:
            raise CheckpointError(f"{self.prefix}: checksum mismatch for {name!r} (corrupted data file).")
        dtype = TF_DTYPES[entry.dtype]
        if entry.size == 0:
            return torch.empty(entry.shape, dtype=dtype)
        return torch.frombuffer(bytearray(data), dtype=dtype).reshape(entry.shape)  # a writable copy


def write_tf_checkpoint(prefix: str, tensors: Iterable[tuple[str, torch.Tensor]], num_shards: int = 1) -> None:
    """Write `tensors` as a TensorFlow checkpoint at `prefix` (`prefix.index` and `prefix.data-*`), streaming
    them to disk one at a time. Shards are filled round-robin by name order."""
    items = sorted(tensors, key=lambda item: item[0].encode("utf-8"))
    names = [name for name, _ in items]
    if len(set(names)) != len(names) or "" in names:
        raise ValueError("tensor names must be unique and non-empty.")
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    files = [open(f"{prefix}.data-{shard:05d}-of-{num_shards:05d}", "wb") for shard in range(num_shards)]
    entries = []
    try:
        for position, (name, tensor) in enumerate(items):
            if tensor.dtype not in TORCH_TO_TF:
                raise ValueError(f"{name!r}: dtype {tensor.dtype} has no TensorFlow equivalent here.")
            data = tensor.detach().cpu().contiguous()
            raw = data.view(torch.int16).numpy().tobytes() if data.dtype == torch.bfloat16 else data.numpy().tobytes()
            shard = position % num_shards
            entries.append(TensorEntry(name, TORCH_TO_TF[data.dtype], tuple(data.shape), shard, files[shard].tell(),
                                       len(raw), masked_crc32c(raw)))
            files[shard].write(raw)
    finally:
        for f in files:
            f.close()
    header = _field(1, num_shards) + _field(3, _field(1, 1))  # num_shards, version {producer: 1}
    _write_table(prefix + ".index", [(b"", header), *((e.name.encode("utf-8"), e.serialize()) for e in entries)])


def write_checkpoint_state(directory: str, prefix_name: str) -> None:
    """The `checkpoint` file that makes `directory` loadable by `tf.train.latest_checkpoint`."""
    with open(os.path.join(directory, "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "{prefix_name}"\nall_model_checkpoint_paths: "{prefix_name}"\n')


__all__ = ["CheckpointError", "TFCheckpointReader", "TensorEntry", "masked_crc32c", "resolve_prefix",
           "write_checkpoint_state", "write_tf_checkpoint"]
