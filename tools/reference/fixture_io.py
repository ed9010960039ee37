"""A tiny safetensors reader/writer in pure Python + NumPy, for the parity fixtures.

Layout: 8-byte little-endian header length, a JSON header
{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the raw
little-endian data. Tensors are laid out widest element first, without holes, so every tensor sits on
its element size; the header is padded with spaces to a multiple of 8 bytes (the C reader,
weights/safetensors.c, refuses unaligned data).
"""
import json
import struct

import numpy as np

DTYPES = {
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int32"): "I32",
    np.dtype("int64"): "I64",
    np.dtype("uint8"): "U8",
}
NUMPY_DTYPES = {name: dtype for dtype, name in DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: numpy array} (dtypes in DTYPES); metadata: {str: anything str() can print}."""
    # np.require keeps 0-d arrays 0-d (num_batches_tracked has shape ()); ascontiguousarray would not.
    items = [(name, np.require(np.asarray(value), requirements="C")) for name, value in tensors.items()]
    items.sort(key=lambda kv: -kv[1].dtype.itemsize)  # stable: insertion order within a width
    header, blobs, offset = {}, [], 0
    for name, arr in items:
        if arr.dtype not in DTYPES:
            raise TypeError(f"{name}: dtype {arr.dtype} has no safetensors fixture dtype")
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DTYPES[arr.dtype], "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """Returns ({name: numpy array}, metadata): used to check what was written."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    data = blob[8 + length :]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = NUMPY_DTYPES[entry["dtype"]].newbyteorder("<")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])
    return tensors, metadata
