"""The rules of cases, one module a concern, each importing only those before it:

- `deadlines`: the stage deadline and the on-site clock of 第七条, and which of them runs now;
- `access`: which staff may see and act on a case;
- `timeline`: recording events, telling the followers, what each follower may read;
- `life`: the transition machinery and the other steps taken on a case;
- `filing`: filing a report (routing, numbering, priority, deadlines, category) and the console's intake;
- `reads`: a resident's cases, the inbox, triage, similar and merged cases, and the audited sensitive reads.

Import from the module that holds a rule (`from backend.cases.services.filing import submit_report`).
"""
