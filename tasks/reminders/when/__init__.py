"""Reading "when" out of a reminder request; :func:`tasks.reminders.parsing.parse_reminder`
is the entry point.

One job per module: :mod:`.duckling` (the Duckling library, loaded once),
:mod:`.rewrite` and :mod:`.phrase` (the phrase and its rewritten views),
:mod:`.languages` (per-language tables), :mod:`.relative` (spans from now),
:mod:`.zones` (times said in another zone), :mod:`.readings` (our conventions and
ambiguity), :mod:`.oneoff` (one time from all of that), :mod:`.recurrence` and
:mod:`.schedule` (repetitions as RRULEs), :mod:`.impossible` (dates and times that do
not exist), :mod:`.text` (the reminder text and leftover time words), :mod:`.fallback`
(the hand grammar where Duckling is missing).
"""
