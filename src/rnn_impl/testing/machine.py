"""The CPU a measurement ran on, named the same way in every generated table and saved run."""

from __future__ import annotations

import os
import platform


def cpu_kind(cpu: dict | None = None) -> str:
    """A CPU's model name, family, model and logical CPU count, from py-cpuinfo's fields
    (``cpu``, or this machine's). Virtual machines
    report CPU generations under one name ("Intel(R) Xeon(R) Processor"); the family and
    model number tell them apart.

    Example::

        >>> cpu_kind({"brand_raw": "AMD EPYC", "family": 25, "model": 17, "count": 2})
        'AMD EPYC (family 25, model 17, 2 logical CPUs)'
    """
    if cpu is None:
        try:
            import cpuinfo
        except ImportError:  # py-cpuinfo comes with pytest-benchmark (the test extra)
            cpu = {"brand_raw": platform.processor() or platform.machine(), "count": os.cpu_count()}
        else:
            cpu = cpuinfo.get_cpu_info()
    return (
        f"{cpu.get('brand_raw', '?')} (family {cpu.get('family', '?')}, model "
        f"{cpu.get('model', '?')}, {cpu.get('count', '?')} logical CPUs)"
    )
