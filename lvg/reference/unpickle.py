"""A restricted unpickler for the reference's ``G_ema`` pickles: data out, never code in.

Why this exists. The reference publishes its generators as ``pickle.dump(G_ema)`` of modules wrapped by its
``torch_utils.persistence``: each persistent object is stored as a call of
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` whose ``meta`` carries the Python source of the
class's module (``module_src``), the class name and the object's ``__dict__``. Loading that with
``pickle.load`` (or ``torch.load(weights_only=False)``) *executes* ``module_src`` and imports whatever
globals the file names: opening a downloaded model would run whatever code it contains.

What this module does instead. :class:`RecordUnpickler` is a :class:`pickle.Unpickler` whose
:meth:`~RecordUnpickler.find_class` maps every global the reference's files use (:data:`ALLOWED`) to a
*data-only handler* defined here, and refuses every other global with an error naming it; its
``persistent_load`` refuses every persistent id (a plain ``pickle.dump`` has none). The handlers only build
plain records:

* ``_reconstruct_persistent_obj(meta)`` -> :class:`Record` (class name + state). ``module_src`` is checked to
  be a string and kept only as its sha256: it is never compiled, executed or imported;
* ``torch.storage._load_from_bytes(b)`` -> the storage, read by ``torch.load(..., weights_only=True)``
  (torch's own restricted loader: storages and tensors only);
* ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` -> a tensor view of that storage, after
  checking every argument's type and that the view lies inside the storage;
* ``torch.nn`` containers (``ModuleList``, ``Identity``) -> :class:`Record` of their ``__dict__``;
* ``collections.OrderedDict``, ``dnnlib.util.EasyDict`` -> dicts;
* NumPy scalars and arrays (numeric dtypes only) -> NumPy values built from their raw bytes.

Every object the pickle machinery can touch (``REDUCE``, ``NEWOBJ``, ``BUILD``) is one of these records or a
builtin container, so no pickle opcode can reach a callable outside this module. :func:`load_records` adds
the checks a truncated or foreign file needs, and turns every failure into :class:`lvg.errors.InputError`
naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lvg.errors import InputError

__all__ = ["ALLOWED", "Record", "RecordUnpickler", "UnsafePickleError", "load_records", "named_tensors"]

PERSISTENCE = "torch_utils.persistence._reconstruct_persistent_obj"


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for something a data-only loader does not do (a global, a persistent id, ...)."""


@dataclass
class Record:
    """One module (or other object) of the pickled network, as data.

    Attributes:
        class_name: the reference class (``VideoGenerator``, ``SynthesisLayer``, ...) for persistent objects,
            the full dotted name for torch containers (``torch.nn.modules.container.ModuleList``).
        state: the object's ``__dict__``: ``_parameters``, ``_buffers``, ``_modules`` and plain attributes.
        persistent: whether it came from ``_reconstruct_persistent_obj`` (then ``module_src_sha256`` and
            ``version`` are set).
    """

    class_name: str
    state: dict[str, Any] = field(default_factory=dict)
    persistent: bool = False
    module_src_sha256: str | None = None
    version: int | None = None

    # ---- the nn.Module parts of the state ------------------------------------------------------------
    @property
    def parameters(self) -> dict[str, Tensor | None]:
        return dict(self.state.get("_parameters") or {})

    @property
    def buffers(self) -> dict[str, Tensor | None]:
        return dict(self.state.get("_buffers") or {})

    @property
    def non_persistent_buffers(self) -> set[str]:
        return set(self.state.get("_non_persistent_buffers_set") or ())

    @property
    def modules(self) -> dict[str, Record | None]:
        return dict(self.state.get("_modules") or {})

    def attr(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)

    def classes(self) -> list[str]:
        """The distinct class names in the tree, sorted."""
        return sorted({r.class_name for _, r in iter_modules(self)})


def named_tensors(root: Record) -> dict[str, Tensor]:
    """The ``state_dict()`` the reference module would have: parameters and persistent buffers, dotted names."""
    out: dict[str, Tensor] = {}

    def walk(rec: Record, prefix: str) -> None:
        for name, t in rec.parameters.items():
            if t is not None:
                out[prefix + name] = t
        skip = rec.non_persistent_buffers
        for name, t in rec.buffers.items():
            if t is not None and name not in skip:
                out[prefix + name] = t
        for name, sub in rec.modules.items():
            if isinstance(sub, Record):
                walk(sub, f"{prefix}{name}.")

    walk(root, "")
    return out


def iter_modules(root: Record) -> Iterator[tuple[str, Record]]:
    """``(dotted name, record)`` of ``root`` (``""``) and every submodule, depth first."""

    def walk(rec: Record, name: str) -> Iterator[tuple[str, Record]]:
        yield name, rec
        for k, sub in rec.modules.items():
            if isinstance(sub, Record):
                yield from walk(sub, f"{name}.{k}" if name else k)

    yield from walk(root, "")


# ============================================================================================ handlers
# Each handler is what find_class returns for one allowed global. Handlers are called by REDUCE with the
# pickle's arguments, or instantiated by NEWOBJ and filled by BUILD; they check what they get and build data.


class _Refuse:
    """Mixin: refuse ``BUILD`` on objects that never take a state (tensors, storages, markers)."""

    def __setstate__(self, state: Any) -> None:
        raise UnsafePickleError(f"unexpected BUILD on {type(self).__name__}")


@dataclass
class _TensorRef(_Refuse):
    """A tensor while unpickling (so no opcode can call a torch method on it); unwrapped afterwards."""

    tensor: Tensor
    parameter: bool = False


@dataclass
class _StorageRef(_Refuse):
    storage: Any  # torch.UntypedStorage
    dtype: torch.dtype


def _reconstruct_persistent_obj(meta: Any) -> Record:
    """``torch_utils.persistence._reconstruct_persistent_obj(meta)`` as data: never touches module_src."""
    if not isinstance(meta, dict):
        raise UnsafePickleError(f"{PERSISTENCE}: expected a dict, got {type(meta).__name__}")
    unknown = set(meta) - {"type", "version", "module_src", "class_name", "state"}
    if unknown:
        raise UnsafePickleError(f"{PERSISTENCE}: unknown meta keys {sorted(unknown)}")
    if meta.get("type") != "class":
        raise UnsafePickleError(f"{PERSISTENCE}: meta type {meta.get('type')!r} (only 'class' is supported)")
    src, name, state = meta.get("module_src"), meta.get("class_name"), meta.get("state")
    if not isinstance(src, str) or not isinstance(name, str) or not name.isidentifier():
        raise UnsafePickleError(f"{PERSISTENCE}: module_src must be a string and class_name an identifier")
    if not isinstance(state, dict):
        raise UnsafePickleError(f"{PERSISTENCE}: state of {name} must be a dict, got {type(state).__name__}")
    version = meta.get("version")
    if not isinstance(version, int):
        raise UnsafePickleError(f"{PERSISTENCE}: version must be an int, got {version!r}")
    # module_src is data to us: hashed for provenance, never compiled or executed
    return Record(name, state, persistent=True, module_src_sha256=hashlib.sha256(src.encode()).hexdigest(),
                  version=version)


def _load_from_bytes(b: Any) -> _StorageRef:
    """``torch.storage._load_from_bytes``: a ``torch.save``d storage, read with ``weights_only=True``."""
    if not isinstance(b, bytes):
        raise UnsafePickleError(f"torch.storage._load_from_bytes: expected bytes, got {type(b).__name__}")
    try:
        obj = torch.load(io.BytesIO(b), weights_only=True, map_location="cpu")
    except Exception as e:  # torch's restricted loader names what it refused
        raise UnsafePickleError(f"a storage could not be read with weights_only=True: {e}") from None
    if isinstance(obj, torch.TypedStorage):
        with warnings.catch_warnings():  # the legacy format gives TypedStorage; we only want its bytes
            warnings.simplefilter("ignore", UserWarning)
            return _StorageRef(obj.untyped(), obj.dtype)
    if isinstance(obj, torch.UntypedStorage):
        return _StorageRef(obj, torch.uint8)
    raise UnsafePickleError(f"a storage blob holds a {type(obj).__name__}, not a storage")


def _int_tuple(x: Any, what: str) -> tuple[int, ...]:
    if not isinstance(x, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in x):
        raise UnsafePickleError(f"_rebuild_tensor_v2: {what} must be a tuple of ints, got {x!r}")
    return x


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       backward_hooks: Any = None, metadata: Any = None) -> _TensorRef:
    """``torch._utils._rebuild_tensor_v2`` for plain CPU tensors: a checked strided view of the storage."""
    if not isinstance(storage, _StorageRef):
        raise UnsafePickleError("_rebuild_tensor_v2: the storage is not a storage this loader read")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if not isinstance(offset, int) or offset < 0 or len(size) != len(stride) or any(v < 0 for v in size + stride):
        raise UnsafePickleError(f"_rebuild_tensor_v2: bad offset/size/stride {offset!r}, {size}, {stride}")
    if not isinstance(requires_grad, bool) or (backward_hooks is not None and len(backward_hooks)) or metadata:
        raise UnsafePickleError("_rebuild_tensor_v2: tensors with hooks or metadata are not supported")
    itemsize = torch.empty(0, dtype=storage.dtype).element_size()
    numel = storage.storage.nbytes() // itemsize
    extent = 0 if 0 in size else offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1
    if extent > numel:
        raise UnsafePickleError(f"_rebuild_tensor_v2: a {size} view at offset {offset} needs {extent} elements, "
                                f"its storage has {numel}")
    t = torch.empty(0, dtype=storage.dtype)
    t.set_(storage.storage, offset, size, stride)
    return _TensorRef(t)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> _TensorRef:
    if not isinstance(data, _TensorRef):
        raise UnsafePickleError("_rebuild_parameter: data is not a tensor this loader built")
    if not isinstance(requires_grad, bool) or (backward_hooks is not None and len(backward_hooks)):
        raise UnsafePickleError("_rebuild_parameter: parameters with hooks are not supported")
    return _TensorRef(data.tensor, parameter=True)


def _ordered_dict(*args: Any) -> OrderedDict:
    if args and not (len(args) == 1 and isinstance(args[0], (list, tuple))):
        raise UnsafePickleError("collections.OrderedDict: unexpected arguments")
    return OrderedDict(*args)


class _ModuleState:
    """A torch.nn container (``NEWOBJ`` then ``BUILD`` with its ``__dict__``): becomes a :class:`Record`."""

    class_name = ""

    def __new__(cls, *args: Any) -> _ModuleState:
        if args:
            raise UnsafePickleError(f"{cls.class_name}: unexpected constructor arguments")
        return object.__new__(cls)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise UnsafePickleError(f"{self.class_name}: state must be a dict")
        self.__dict__["_state"] = state


class _ModuleList(_ModuleState):
    class_name = "torch.nn.modules.container.ModuleList"


class _Identity(_ModuleState):
    class_name = "torch.nn.modules.linear.Identity"


class _EasyDict(dict):
    """``dnnlib.util.EasyDict`` (a dict subclass): items by SETITEMS, an optional empty ``__dict__`` by BUILD."""

    def __setstate__(self, state: Any) -> None:
        if state is not None and not isinstance(state, dict):
            raise UnsafePickleError("dnnlib.util.EasyDict: bad state")
        self.update(state or {})


_NUMERIC_KINDS = set("biufc")


@dataclass
class _DType:
    """``numpy.dtype(name, align, copy)`` + BUILD state: only numeric dtypes are accepted."""

    dtype: np.dtype

    def __setstate__(self, state: Any) -> None:
        # (version, byteorder, subdescr, names, fields, elsize, alignment, flags)
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise UnsafePickleError("numpy.dtype: bad state")
        if any(v is not None for v in state[2:5]):
            raise UnsafePickleError("numpy.dtype: structured dtypes are not supported")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


def _np_dtype(name: Any, align: Any = False, copy: Any = False) -> _DType:
    if not isinstance(name, str) or len(name) > 8:
        raise UnsafePickleError(f"numpy.dtype: bad name {name!r}")
    try:
        dt = np.dtype(name)
    except TypeError:
        raise UnsafePickleError(f"numpy.dtype: unknown dtype {name!r}") from None
    if dt.kind not in _NUMERIC_KINDS:
        raise UnsafePickleError(f"numpy.dtype: only numeric dtypes are accepted, not {name!r}")
    return _DType(dt)


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, _DType) or not isinstance(data, bytes) or len(data) != dtype.dtype.itemsize:
        raise UnsafePickleError("numpy scalar: expected a numeric dtype and its raw bytes")
    return np.frombuffer(data, dtype=dtype.dtype)[0].item()


class _NDArrayMarker(_Refuse):
    """The ``numpy.ndarray`` global: only valid as the first argument of ``_reconstruct``."""


@dataclass
class _Array:
    """``numpy._core.multiarray._reconstruct(ndarray, (0,), b'b')`` + BUILD ``(1, shape, dtype, fortran, raw)``."""

    value: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        ok = isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _DType)
        if not ok or not isinstance(state[4], bytes) or not isinstance(state[1], tuple):
            raise UnsafePickleError("numpy array: expected (version, shape, numeric dtype, fortran, raw bytes)")
        shape, dt, fortran, raw = _int_tuple(state[1], "shape"), state[2].dtype, bool(state[3]), state[4]
        if math.prod(shape) * dt.itemsize != len(raw):
            raise UnsafePickleError(f"numpy array: {len(raw)} bytes for shape {shape} of {dt}")
        self.value = np.frombuffer(raw, dtype=dt).reshape(shape, order="F" if fortran else "C").copy()


def _np_reconstruct(cls: Any, shape: Any = None, typecode: Any = None) -> _Array:
    if cls is not _NDArrayMarker:
        raise UnsafePickleError("numpy _reconstruct: only plain ndarrays are supported")
    return _Array()


# (module, name) -> handler. Every global the reference's G_ema pickles use; nothing else.
ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch.nn.modules.container", "ModuleList"): _ModuleList,
    ("torch.nn.modules.linear", "Identity"): _Identity,
    ("dnnlib.util", "EasyDict"): _EasyDict,
}
for _np in ("numpy._core.multiarray", "numpy.core.multiarray"):  # NumPy 2.x and 1.x spellings
    ALLOWED[(_np, "scalar")] = _np_scalar
    ALLOWED[(_np, "_reconstruct")] = _np_reconstruct
ALLOWED[("numpy", "dtype")] = _np_dtype
ALLOWED[("numpy", "ndarray")] = _NDArrayMarker


class RecordUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves globals only through :data:`ALLOWED` (see the module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        handler = ALLOWED.get((module, name))
        if handler is None:
            raise UnsafePickleError(f"refused global {module}.{name}: not one of the {len(ALLOWED)} globals a "
                                    "reference G_ema pickle uses (nothing from the file was executed)")
        return handler

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refused persistent id {str(pid)[:80]!r}: a reference G_ema pickle has none")


# ============================================================================================ finishing
def _finish(obj: Any, memo: dict[int, Any], depth: int = 0) -> Any:
    """Replace the unpickling-time wrappers by plain values (tensors, arrays, Records, dicts)."""
    if depth > 200:
        raise UnsafePickleError("object tree nested more than 200 levels")
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, _TensorRef):
        out: Any = obj.tensor
    elif isinstance(obj, _Array):
        if obj.value is None:
            raise UnsafePickleError("numpy array without data")
        out = obj.value
    elif isinstance(obj, _DType):
        out = obj.dtype
    elif isinstance(obj, (_StorageRef, _NDArrayMarker)) or obj is _NDArrayMarker:
        raise UnsafePickleError(f"a bare {type(obj).__name__} outside a tensor")
    elif isinstance(obj, Record):
        out = obj
        memo[key] = out
        obj.state = _finish(obj.state, memo, depth + 1)
        return out
    elif isinstance(obj, _ModuleState):
        out = Record(obj.class_name)
        memo[key] = out
        out.state = _finish(obj.__dict__.get("_state", {}), memo, depth + 1)
        return out
    elif isinstance(obj, dict):
        out = {}
        memo[key] = out
        for k, v in obj.items():
            out[_finish(k, memo, depth + 1)] = _finish(v, memo, depth + 1)
        return out
    elif isinstance(obj, list):
        out = []
        memo[key] = out
        out.extend(_finish(v, memo, depth + 1) for v in obj)
        return out
    elif isinstance(obj, (tuple, set, frozenset)):
        out = type(obj)(_finish(v, memo, depth + 1) for v in obj)
    elif obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        out = obj
    else:
        raise UnsafePickleError(f"unexpected object of type {type(obj).__name__}")
    memo[key] = out
    return out


_ZIP_MAGIC = b"PK\x03\x04"


def load_records(path: str | Path) -> tuple[Record, str]:
    """Read a reference ``G_ema`` pickle as data: ``(root record, sha256 of the file)``.

    Raises :class:`InputError` naming ``path`` for anything that is not such a pickle: a missing, empty or
    truncated file, a ``torch.save`` zip archive, a refused global or persistent id, a malformed tensor,
    or a root object that is not a persistent module.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(path, f"cannot read the file ({e.strerror or e})") from None
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        raise InputError(path, "empty file: not a reference G_ema pickle")
    if data.startswith(_ZIP_MAGIC):
        raise InputError(path, "a zip archive (torch.save format?), not a reference G_ema pickle "
                         "(pickle.dump of a torch_utils.persistence module)")
    if data[0] != 0x80:
        raise InputError(path, "not a pickle (protocol 2+ header missing): not a reference G_ema pickle")
    try:
        obj = RecordUnpickler(io.BytesIO(data)).load()
        root = _finish(obj, {})
    except UnsafePickleError as e:
        raise InputError(path, str(e)) from None
    except EOFError:
        raise InputError(path, f"truncated pickle (ends after {len(data)} bytes)") from None
    except pickle.UnpicklingError as e:
        if "truncated" in str(e):
            raise InputError(path, f"truncated pickle (ends after {len(data)} bytes)") from None
        raise InputError(path, f"malformed pickle ({e})") from None
    except ( ValueError, TypeError, AttributeError, IndexError, KeyError,
            RecursionError, MemoryError) as e:
        raise InputError(path, f"malformed pickle ({type(e).__name__}: {e})") from None
    if not isinstance(root, Record) or not root.persistent:
        raise InputError(path, f"holds a {type(root).__name__}, not a torch_utils.persistence module: "
                         "not a reference G_ema pickle")
    return root, digest
