"""Where a generation's passage vectors and BM25 index live: FAISS + bm25s files (embedded, the default) or a
Milvus collection. rag.store writes and loads generations through the interface in rag.backends.base."""
