#!/usr/bin/env python3
"""Talk to a NUT server the way Home Assistant does, through aionut, and print
what it saw in a stable text form (one fact per line, sorted where the protocol
gives no order), so two servers can be compared byte for byte.

Home Assistant's NUT integration uses AIONUTClient's list_ups, description,
list_vars, list_commands and run_command. aionut has no call for command
descriptions or for reading/writing one variable, so those go through a small
subclass built on aionut's own connection handling (login, errors, retries).

usage: aionut_client.py HOST PORT UPS USER PASSWORD COMMAND VAR=VALUE
"""

import asyncio
import sys

try:
    from aionut import AIONUTClient, NUTError
    from aionut.client import connected_operation
except ImportError as error:  # the Rust test shows this message
    sys.exit(f"Python module aionut is missing ({error}): install it with `python3 -m pip install aionut`")


class ExtendedClient(AIONUTClient):
    """aionut plus the three requests it lacks, sent over its own connection."""

    @connected_operation
    async def command_description(self, ups: str, command: str) -> str:
        response = await self._write_command_or_raise(f"GET CMDDESC {ups} {command}\n", "CMDDESC")
        return response.split(" ", 3)[3].strip('\n"')

    @connected_operation
    async def get_var(self, ups: str, var: str) -> str:
        response = await self._write_command_or_raise(f"GET VAR {ups} {var}\n", "VAR")
        return response.split(" ", 3)[3].strip('\n"')

    @connected_operation
    async def set_var(self, ups: str, var: str, value: str) -> str:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        response = await self._write_command_or_raise(f'SET VAR {ups} {var} "{escaped}"\n')
        return response.strip()


async def outcome(call) -> str:
    """The call's result, or its error class and message (errors are part of what is compared)."""
    try:
        return str(await call)
    except NUTError as error:
        return f"{type(error).__name__}: {error}"


async def main(host: str, port: int, ups: str, user: str, password: str, command: str, assignment: str) -> None:
    var, _, value = assignment.partition("=")
    anonymous = AIONUTClient(host, port)
    admin = ExtendedClient(host, port, user, password)
    try:
        for name, description in sorted((await anonymous.list_ups()).items()):
            print(f"ups {name}: {description}")
        print(f"description: {await anonymous.description(ups)}")
        for name, current in sorted((await anonymous.list_vars(ups)).items()):
            print(f"var {name}: {current}")
        for name in sorted(await admin.list_commands(ups)):
            print(f"command {name}: {await admin.command_description(ups, name)}")
        print(f"run {command} without login: {await outcome(anonymous.run_command(ups, command))}")
        print(f"run {command}: {await outcome(admin.run_command(ups, command))}")
        print(f"get {var}: {await outcome(admin.get_var(ups, var))}")
        print(f"set {var}: {await outcome(admin.set_var(ups, var, value))}")
        # The server answers SET before the driver applies it: wait (bounded) for the new value.
        seen = None
        for _ in range(100):
            seen = await outcome(admin.get_var(ups, var))
            if seen == value:
                break
            await asyncio.sleep(0.1)
        print(f"get {var} after set: {seen}")
        print(f"get no.such.var: {await outcome(admin.get_var(ups, 'no.such.var'))}")
    finally:
        anonymous.shutdown()
        admin.shutdown()


if __name__ == "__main__":
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    host, port, ups, user, password, command, assignment = sys.argv[1:]
    asyncio.run(main(host, int(port), ups, user, password, command, assignment))
