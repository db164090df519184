"""The rules of legal-education articles, one module a concern, each importing only those before it:

- `checks`: what an article may say (fields, categories, tags, citations, our own images);
- `access`: who may write, and who may read the studio's side;
- `published`: the published set's version (which every process's bot follows) and its articles;
- `writing`: drafts, versions, restoring, publishing and withdrawing, on the record;
- `studio`: the studio's reading (lists, one article, its record, comparing versions, images);
- `reading`: what residents read (lists, one article, related ones, images);
- `search`: searching the published articles.
"""
