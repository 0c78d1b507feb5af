"""The console's fixed words in Indonesian and English, and the switch between them.

Templates call ``t("key")``; the language is the signed session's ``lang`` (set by the ID/EN
link in the header). Only fixed labels live here: navigation, headings, buttons. Citizen text
and the words of pages not listed in the README stay as they are.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, session, url_for

from bot.web.console.blueprint import bp

LANGUAGES = ("id", "en")

LABELS: dict[str, dict[str, str]] = {
    "id": {
        "brand": "Warga · Konsol petugas",
        "nav.complaints": "Laporan",
        "nav.conversations": "Percakapan",
        "nav.dashboard": "Dasbor",
        "nav.nlu": "Latih bot",
        "nav.transcripts": "Transkrip",
        "nav.users": "Pengguna",
        "nav.logout": "Keluar",
        "queue.title": "Menunggu petugas",
        "queue.intake": "Antrean umum",
        "queue.empty": "Tidak ada yang menunggu.",
        "queue.waiting": "Menunggu",
        "queue.last": "Pesan terakhir warga",
        "queue.reason": "Alasan",
        "queue.taken": "Ditangani oleh",
        "queue.nobody": "belum ada",
        "col.channel": "Kanal",
        "col.address": "Alamat",
        "col.queue": "Antrean",
        "problems.title": "Pesan yang gagal atau tertahan",
        "unparseable.title": "Kiriman penyedia yang tidak terbaca",
        "conv.title": "Percakapan",
        "conv.with_staff": "ditangani petugas",
        "conv.with_bot": "dilayani bot",
        "conv.waiting": "menunggu petugas",
        "conv.take": "Tangani (bot diam)",
        "conv.release": "Kembalikan ke bot",
        "conv.reply": "Balas",
        "conv.send": "Kirim",
        "conv.canned": "Balasan siap pakai",
        "conv.staff_actions": "Tindakan petugas",
        "conv.live": "Pesan baru muncul otomatis.",
        "tr.title": "Transkrip",
        "tr.text": "Teks",
        "tr.contact": "Kontak",
        "tr.channel": "Kanal",
        "tr.from": "Dari tanggal",
        "tr.to": "Sampai tanggal",
        "tr.intent": "Intent",
        "tr.not_understood": "Tidak dipahami bot",
        "tr.search": "Cari",
        "tr.any": "semua",
        "tr.found": "percakapan",
        "tr.last_activity": "Terakhir",
        "tr.match": "Pesan",
        "tr.none": "Tidak ada percakapan.",
        "tr.not_understood_badge": "tidak dipahami",
        "pager.page": "Halaman",
        "pager.prev": "‹ sebelumnya",
        "pager.next": "berikutnya ›",
        "users.title": "Pengguna",
        "users.create": "Buat pengguna",
        "users.username": "Nama pengguna",
        "users.name": "Nama",
        "users.role": "Peran",
        "users.agency": "Instansi",
        "users.intake": "Melayani antrean umum",
        "users.password": "Kata sandi awal",
        "users.password_col": "Kata sandi",
        "users.active": "Aktif",
        "users.disable": "Nonaktifkan",
        "users.enable": "Aktifkan",
        "users.reset": "Buat kata sandi baru",
        "users.set_password": "Setel kata sandi",
        "users.save_role": "Simpan peran",
        "users.save": "Simpan",
        "users.yes": "ya",
        "users.no": "tidak",
        "users.new_password": "Kata sandi baru untuk {user} (hanya ditampilkan sekali):",
        "lang.switch": "English",
        "login.title": "Masuk",
        "login.submit": "Masuk",
        "login.wrong": "Nama pengguna atau kata sandi salah.",
        "login.locked": ("Akun atau alamat ini dikunci setelah terlalu banyak percobaan gagal. "
                         "Minta admin membukanya (warga users unlock)."),
        "login.slow": "Terlalu banyak percobaan gagal. Coba lagi dalam {seconds} detik.",
        "login.busy": "Server sedang sibuk memeriksa kata sandi. Coba lagi sebentar lagi.",
    },
    "en": {
        "brand": "Warga · Staff console",
        "nav.complaints": "Complaints",
        "nav.conversations": "Conversations",
        "nav.dashboard": "Dashboard",
        "nav.nlu": "Teach the bot",
        "nav.transcripts": "Transcripts",
        "nav.users": "Users",
        "nav.logout": "Sign out",
        "queue.title": "Waiting for staff",
        "queue.intake": "General intake",
        "queue.empty": "Nobody is waiting.",
        "queue.waiting": "Waiting",
        "queue.last": "Citizen's last message",
        "queue.reason": "Reason",
        "queue.taken": "Taken by",
        "queue.nobody": "nobody yet",
        "col.channel": "Channel",
        "col.address": "Address",
        "col.queue": "Queue",
        "problems.title": "Failed or held messages",
        "unparseable.title": "Provider requests that could not be read",
        "conv.title": "Conversation",
        "conv.with_staff": "with staff",
        "conv.with_bot": "with the bot",
        "conv.waiting": "waiting for staff",
        "conv.take": "Take over (bot stays quiet)",
        "conv.release": "Return to the bot",
        "conv.reply": "Reply",
        "conv.send": "Send",
        "conv.canned": "Canned replies",
        "conv.staff_actions": "Staff actions",
        "conv.live": "New messages appear automatically.",
        "tr.title": "Transcripts",
        "tr.text": "Text",
        "tr.contact": "Contact",
        "tr.channel": "Channel",
        "tr.from": "From date",
        "tr.to": "To date",
        "tr.intent": "Intent",
        "tr.not_understood": "Not understood by the bot",
        "tr.search": "Search",
        "tr.any": "any",
        "tr.found": "conversations",
        "tr.last_activity": "Last activity",
        "tr.match": "Message",
        "tr.none": "No conversations.",
        "tr.not_understood_badge": "not understood",
        "pager.page": "Page",
        "pager.prev": "‹ previous",
        "pager.next": "next ›",
        "users.title": "Users",
        "users.create": "Create user",
        "users.username": "Username",
        "users.name": "Name",
        "users.role": "Role",
        "users.agency": "Agency",
        "users.intake": "Serves general intake",
        "users.password": "Initial password",
        "users.password_col": "Password",
        "users.active": "Active",
        "users.disable": "Disable",
        "users.enable": "Enable",
        "users.reset": "Generate a new password",
        "users.set_password": "Set password",
        "users.save_role": "Save role",
        "users.save": "Save",
        "users.yes": "yes",
        "users.no": "no",
        "users.new_password": "New password for {user} (shown only once):",
        "lang.switch": "Bahasa Indonesia",
        "login.title": "Sign in",
        "login.submit": "Sign in",
        "login.wrong": "Wrong username or password.",
        "login.locked": ("This account or address is locked after too many failed attempts. "
                         "Ask an admin to unlock it (warga users unlock)."),
        "login.slow": "Too many failed attempts. Try again in {seconds} seconds.",
        "login.busy": "The server is busy checking passwords. Try again in a moment.",
    },
}


def console_language() -> str:
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "id"


def label(key: str, **values: Any) -> str:
    """The fixed word ``key`` in the console's language (Indonesian when English lacks it)."""
    text = LABELS[console_language()].get(key) or LABELS["id"].get(key, key)
    return text.format(**values) if values else text


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"t": label, "console_lang": console_language()}


@bp.get("/language/<lang>")
def switch_language(lang: str) -> Any:
    # A plain link (GET): it changes only how this browser's console reads, nothing stored.
    if lang not in LANGUAGES:
        abort(404)
    session["lang"] = lang
    back = request.args.get("next", "")
    # Only local console paths: never bounce to another site.
    return redirect(back if back.startswith("/console") and not back.startswith("//") else url_for("console.index"))
