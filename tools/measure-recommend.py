#!/usr/bin/env python3
"""Measures `songspace recommend`'s two methods on the development corpus: 100 draws of 3 liked
songs of one genre from 3 albums (share of the 10 recommendations with that genre, and with that
genre from other albums), and 100 draws of 2 liked songs of 2 genres (share with either genre,
and how often both genres are among the 10).

    tools/measure-recommend.py SONGSPACE_BINARY LIBRARY [CORPUS]

LIBRARY: the development corpus imported (`songspace import ~/.cache/songspace-dev-corpus/fma_dev`)
and projected."""
import csv, json, os, random, subprocess, sys, statistics as st
binary, lib = sys.argv[1], sys.argv[2]
corpus = sys.argv[3] if len(sys.argv) > 3 else os.path.expanduser('~/.cache/songspace-dev-corpus')
rows=list(csv.reader(open(os.path.join(corpus, 'fma_metadata/tracks.csv'))))
h0,h1=rows[0],rows[1]
col=lambda a,b:[i for i in range(len(h0)) if h0[i]==a and h1[i]==b][0]
g=col('track','genre_top'); al=col('album','title')
genre={};album={}
for r in rows[3:]:
    tid=int(r[0]); genre[tid]=r[g]; album[tid]=r[al]
def rec(likes,method,k=10):
    args=[binary,'recommend',lib,'-k',str(k),'--json','--method',method]
    for l in likes: args+=['--like',str(l)]
    out=subprocess.run(args,capture_output=True,text=True,check=True).stdout
    return [r['id'] for r in json.loads(out)['recommendations']]
rng=random.Random(7)
genres=sorted(x for x in set(genre.values()) if x)
res={}
for method in ['mean','union']:
    a_same=[];a_other=[];b_either=[];b_both=[]
    rng=random.Random(7)
    for t in range(100):
        gname=rng.choice([x for x in genres if len(set(album[i] for i in genre if genre[i]==x))>=3])
        albums=rng.sample(sorted(set(album[i] for i in genre if genre[i]==gname)),3)
        likes=[rng.choice(sorted(i for i in genre if album[i]==a and genre[i]==gname)) for a in albums]
        r=rec(likes,method)
        a_same.append(sum(genre[i]==gname for i in r)/len(r))
        a_other.append(sum(genre[i]==gname and album[i] not in albums for i in r)/len(r))
        g1,g2=rng.sample(genres,2)
        likes=[rng.choice(sorted(i for i in genre if genre[i]==g1)),rng.choice(sorted(i for i in genre if genre[i]==g2))]
        r=rec(likes,method)
        b_either.append(sum(genre[i] in (g1,g2) for i in r)/len(r))
        b_both.append(int(any(genre[i]==g1 for i in r) and any(genre[i]==g2 for i in r)))
    f=lambda v:'%.3f ± %.3f'%(st.mean(v),st.pstdev(v))
    print(method,'3 likes of one genre: liked genre',f(a_same),'| liked genre from other albums',f(a_other),'| 2 likes of 2 genres: either genre',f(b_either),'| both genres present',f(b_both))
