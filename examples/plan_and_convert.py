"""Read a firmware file, show what it holds, plan it for a chip and convert it — no device needed.

    python examples/plan_and_convert.py firmware.dfu stm32f407vg
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import stflash


def main(path: str, part: str) -> int:
    try:
        fw = stflash.load(path)
        chip = stflash.find_chip(part)
        print(f"{path}: {fw.format}, {fw.image.size} bytes in {len(fw.image)} segment(s), CRC32 {fw.image.crc32:#010x}")
        plan = stflash.plan_write(fw.image, chip)
        print(plan.render())
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "firmware.hex"
            stflash.save(fw, str(out))
            again = stflash.load(str(out))
            print(f"converted to {out.name}: same bytes = {again.image == fw.image}")
    except stflash.StflashError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
