/*
 * layout - print the segment layout of common.h as shell assignments, so
 * that the fuzz tests corrupt the fields where they really are.
 */
#include "../common.h"

#define FIELD(f)	printf("OFF_%s=%zu\n", #f, offsetof(struct seg, f))

int
main(void)
{
	FIELD(magic);
	FIELD(version);
	FIELD(gen);
	FIELD(cap);
	FIELD(flags);
	FIELD(state);
	FIELD(wtoken);
	FIELD(rtoken);
	FIELD(namepid);
	FIELD(head);
	FIELD(seq);
	FIELD(wopen);
	FIELD(alloc);
	FIELD(over);
	FIELD(tail);
	FIELD(rin);
	FIELD(abandoned);
	FIELD(asleep);
	FIELD(hold);
	FIELD(name);
	FIELD(slot);
	printf("OFF_slot_epoch=%zu\nOFF_slot_pid=%zu\n",
	    offsetof(struct seg, slot) + offsetof(struct slot, epoch),
	    offsetof(struct seg, slot) + offsetof(struct slot, pid));
	printf("SLOT_POS=%zu\nSLOT_CMD=%zu\nCMD_LEN=%d\n",
	    offsetof(struct slot, pos), offsetof(struct slot, cmd), CMD_LEN);
	printf("SEG_KEEP=%u\nSEG_BCAST=%u\nSEG_LOSSY=%u\n", SEG_KEEP,
	    SEG_BCAST, SEG_LOSSY);
	printf("SLOT_SIZE=%zu\nNSLOT=%d\nHDRSZ=%d\nVERSION=%d\n",
	    sizeof(struct slot), NSLOT, SEG_HDRSZ, SEG_VERSION);
	printf("REC_FIRST=%u\nREC_LAST=%u\nREC_ABORT=%u\nREC_SYNC=%u\n"
	    "REC_TAKEN=%u\nREC_LENMAX=%u\n", REC_FIRST, REC_LAST, REC_ABORT,
	    REC_SYNC, REC_TAKEN, REC_LENMAX);
	printf("ST_BUILDING=%d\nST_LIVE=%d\nST_DYING=%d\nST_REMOVED=%d\n",
	    ST_BUILDING, ST_LIVE, ST_DYING, ST_REMOVED);
	printf("LK_NAME=%d\nLK_SLOT=%d\n", LK_NAME, LK_SLOT);
	return 0;
}
