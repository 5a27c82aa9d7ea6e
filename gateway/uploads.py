"""The data files users upload in the field `file` (a pharmacy's ASAP file, the registry's
CSV): read with a cap, refused with a problem that names the field. Larger files are loaded
on a server, and each kind says how."""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from gateway.problems import Problem

MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class DataFile:
    send: str  # what to send, for the problem: "Send the ASAP file in the form field `file`."
    choose: str  # the field's error when none came: "Choose the ASAP file to send."
    larger: str  # where a file over the cap goes instead

    def limit(self, request: Request) -> None:
        """Refuse a request far over the cap before its body is read (call before the form)."""
        request.max_content_length = MAX_BYTES + 1024 * 1024

    def too_large(self) -> Problem:
        return Problem(
            413, "The file is too large", self.larger,
            extensions={"errors": {"file": "The file is over 20 MB."}},
        )  # fmt: skip

    def read(self, request: Request) -> tuple[str, bytes]:
        """The uploaded file's name and bytes; a problem naming the field if there is none
        or it is over the cap."""
        self.limit(request)
        try:
            upload = request.files.get("file")
        except RequestEntityTooLarge:
            raise self.too_large() from None
        if upload is None or not upload.filename:
            raise Problem(
                422, "No file was sent", self.send, extensions={"errors": {"file": self.choose}}
            )
        content = upload.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            raise self.too_large()
        return upload.filename, content
