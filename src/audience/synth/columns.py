"""Typed helpers over Arrow columns: concatenation, dictionary lookup, raw buffers.

pyarrow's compute kernels accept mixes of Python strings and arrays that its type stubs cannot
express; these wrappers give the rest of the package one typed signature for each operation.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Column: TypeAlias = "pa.Array[Any]"
AnyColumn: TypeAlias = "pa.Array[Any] | pa.ChunkedArray[Any]"


def flat(values: AnyColumn) -> Column:
    """One contiguous array (table columns come as chunked arrays)."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def concat(*parts: AnyColumn | str, separator: str = "", skip_nulls: bool = False) -> Column:
    """Row-wise concatenation of columns and constant strings.

    A null part makes the row null, or with ``skip_nulls`` is left out together with its
    separator (``a,b`` rather than ``a,,b``).
    """
    null_handling = "skip" if skip_nulls else "emit_null"
    joined = pc.binary_join_element_wise(*parts, separator, null_handling=null_handling)  # type: ignore[call-overload]  # stubs reject str mixed with arrays
    return flat(joined)


def lookup(dictionary: Column, index: np.ndarray) -> Column:
    """``dictionary[index]``, null where the index is negative."""
    return dictionary.take(pa.array(index, mask=index < 0))


def set_column(table: pa.Table, name: str, values: AnyColumn) -> pa.Table:
    """The table with column ``name`` replaced (same field, so the schema is unchanged)."""
    position = table.schema.get_field_index(name)
    return table.set_column(position, table.schema.field(position), values)


def buffer_of(array: np.ndarray) -> pa.Buffer:
    """A zero-copy Arrow buffer over a contiguous numpy array."""
    return pa.py_buffer(np.ascontiguousarray(array).data)


def string_layout(strings: Column) -> tuple[np.ndarray, pa.Buffer]:
    """The len + 1 offsets of a string column into its character buffer, and that buffer."""
    if strings.type != pa.string():
        raise TypeError(f"expected a string column, got {strings.type}")
    offsets_buffer, data = strings.buffers()[1:3]
    if offsets_buffer is None or data is None:
        raise ValueError("a string array without offset or data buffer")
    offsets = np.frombuffer(memoryview(offsets_buffer), dtype=np.int32)
    return offsets[strings.offset : strings.offset + len(strings) + 1], data
