package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// builtinModerator is a Moderator with the built-in lists and blocklist.
var builtinModerator = sync.OnceValue(func() *Moderator { return NewModerator(BuiltinWordLists(), nil) })

// moderate decides on a post with the built-in lists and without the
// outside services.
func moderate(p PostContent, blocked []string) Moderation {
	if blocked == nil {
		return builtinModerator().Moderate(p, Checks{})
	}
	return NewModerator(BuiltinWordLists(), blocked).Moderate(p, Checks{})
}

// ---- Moderation ----

func TestModeratePost(t *testing.T) {
	manyLinks := "https://a.example/1 https://b.example/2 https://c.example/3 https://d.example/4 https://e.example/5 https://f.example/6"
	tests := []struct {
		name        string
		post        PostContent
		blocked     []string
		wantStatus  string
		wantReasons []string
	}{
		{
			name:       "clean recruiting post",
			post:       PostContent{Content: "We're hiring a Senior Go developer in Paris! Salary 60-70k€. Apply at https://acme.example/careers — urgent start"},
			wantStatus: StatusApproved,
		},
		{
			name:       "URGENT alone",
			post:       PostContent{Content: "URGENT"},
			wantStatus: StatusApproved,
		},
		{
			name:       "clean French post with image",
			post:       PostContent{Content: "Nous recrutons un développeur Python confirmé à Lyon. Télétravail partiel possible.", Images: []string{"https://cdn.example/x.png"}},
			wantStatus: StatusApproved,
		},
		{
			name:       "salary with many zeros and a short acronym",
			post:       PostContent{Content: "Budget 1000000 for the ACME CTO"},
			wantStatus: StatusApproved,
		},
		{
			name:       "incitement verb without a target group",
			post:       PostContent{Content: "Our cron jobs kill all zombie processes; gas the car before the offsite"},
			wantStatus: StatusApproved,
		},
		{
			name:       "prose mentioning JavaScript: is not a link",
			post:       PostContent{Content: "JavaScript: 5 years. Data: Spark."},
			wantStatus: StatusApproved,
		},
		{
			name:        "single English spam phrase",
			post:        PostContent{Content: "Free money for everyone"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"spam phrase: 'free money'"},
		},
		{
			name:        "single French spam phrase with typographic apostrophe",
			post:        PostContent{Content: "Gagnez de l’argent"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"spam phrase: 'gagnez de l'argent'"},
		},
		{
			name:        "French spam phrases without accents",
			post:        PostContent{Content: "OFFRE LIMITEE : travail a domicile remunere"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"spam phrase: 'offre limitée'", "spam phrase: 'travail à domicile rémunéré'"},
		},
		{
			name:        "French spam with repeated punctuation",
			post:        PostContent{Content: "Gagnez de l'argent facile, cliquez ici !!!!!!!"},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"spam phrase: 'gagnez de l'argent'", "spam phrase: 'argent facile'", "spam phrase: 'cliquez ici'", "repeated punctuation"},
		},
		{
			name:        "stacked English spam",
			post:        PostContent{Content: "Make money fast with this crypto giveaway, 100% guaranteed"},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"spam phrase: 'make money fast'", "spam phrase: 'crypto giveaway'", "spam phrase: '100% guaranteed'"},
		},
		{
			name:        "repeated phrase reported once",
			post:        PostContent{Content: "click here, click here, CLICK HERE"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"spam phrase: 'click here'"},
		},
		{
			name:        "English incitement against a group",
			post:        PostContent{Content: "We should kill all immigrants"},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"hate: incitement against a group"},
		},
		{
			name:        "French slur phrase",
			post:        PostContent{Content: "Quelle sale race."},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"hate: slur"},
		},
		{
			name:        "French incitement with accents and hyphen",
			post:        PostContent{Content: "Ces sous-races... à mort les immigrés"},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"hate: dehumanising term", "hate: incitement against a group"},
		},
		{
			name:        "shouting alone is a weak signal",
			post:        PostContent{Content: "ATTENTION EVERYONE WE HIRE today"},
			wantStatus:  StatusApproved,
			wantReasons: []string{"shouting: 82% capitals"},
		},
		{
			name:       "exactly 70% capitals is not shouting",
			post:       PostContent{Content: "WE ARE HIRING NOW in lyon"},
			wantStatus: StatusApproved,
		},
		{
			name:        "shouting with repeated punctuation is enthusiasm",
			post:        PostContent{Content: "BEST JOB OFFER IN TOWN APPLY NOW!!!!!!"},
			wantStatus:  StatusApproved,
			wantReasons: []string{"shouting: 100% capitals", "repeated punctuation"},
		},
		{
			name:        "style signals weigh with a spam hint",
			post:        PostContent{Content: "BEST DEAL IN TOWN, DON'T WAIT!!!!!!"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"spam phrase: 'best deal'", "shouting: 100% capitals", "repeated punctuation"},
		},
		{
			name:        "stretched word",
			post:        PostContent{Content: "This team is sooOOOO nice"},
			wantStatus:  StatusApproved,
			wantReasons: []string{"repeated characters"},
		},
		{
			name:       "five links are fine, a port is no scheme",
			post:       PostContent{Content: "https://a.example/1 https://b.example/2 https://c.example/3", Links: []string{"acme.example:8080/jobs", "www.acme.example/faq#q:a"}},
			wantStatus: StatusApproved,
		},
		{
			name:        "too many links",
			post:        PostContent{Content: manyLinks},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"too many links: 6"},
		},
		{
			name:       "the same link in Links and content counts once",
			post:       PostContent{Content: "See https://a.example/1, https://b.example/2. Or https://c.example/3!", Links: []string{"https://a.example/1", "https://b.example/2", "https://c.example/3"}},
			wantStatus: StatusApproved,
		},
		{
			name:        "javascript scheme in Links",
			post:        PostContent{Content: "Nice post", Links: []string{"JaVaScRiPt:alert(document.cookie)"}},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"link scheme not allowed: javascript:"},
		},
		{
			name:        "javascript scheme split by a tab",
			post:        PostContent{Links: []string{" java\tscript:alert(1)"}},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"link scheme not allowed: javascript:"},
		},
		{
			name:        "data scheme in content",
			post:        PostContent{Content: "open data:text/html;base64,PHNjcmlwdD4= now"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"link scheme not allowed: data:"},
		},
		{
			name:        "IPv4 address link",
			post:        PostContent{Content: "Login at http://192.168.1.1/login"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"IP address link: 192.168.1.1"},
		},
		{
			name:        "IPv6 address link with port",
			post:        PostContent{Links: []string{"http://[2001:db8::1]:8080/x"}},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"IP address link: 2001:db8::1"},
		},
		{
			name:        "punycode domain",
			post:        PostContent{Content: "Verify your account: https://xn--pypal-4ve.com/login"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"punycode domain: xn--pypal-4ve.com"},
		},
		{
			name:        "lookalike domain mixing Latin and Cyrillic",
			post:        PostContent{Links: []string{"https://pаypal.com/login"}},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"mixed-script domain: pаypal.com"},
		},
		{
			name:        "link shortener written with www",
			post:        PostContent{Content: "Details: www.bit.ly/3xYz"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"link shortener: bit.ly"},
		},
		{
			name:        "two links to one shortener give one reason",
			post:        PostContent{Content: "https://bit.ly/a and https://bit.ly/b"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"link shortener: bit.ly"},
		},
		{
			name:        "link shortener in Links without scheme",
			post:        PostContent{Links: []string{"t.co/abc"}},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"link shortener: t.co"},
		},
		{
			name:        "blocked domain, subdomain",
			post:        PostContent{Content: "look https://a.evil.example/x"},
			blocked:     []string{"evil.example"},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"blocked domain: evil.example"},
		},
		{
			name:        "blocked domain given with wildcard and case",
			post:        PostContent{Links: []string{"https://EVIL.example./"}},
			blocked:     []string{" *.Evil.Example "},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"blocked domain: evil.example"},
		},
		{
			name:       "domain merely ending like a blocked one",
			post:       PostContent{Links: []string{"https://notevil.example/"}},
			blocked:    []string{"evil.example"},
			wantStatus: StatusApproved,
		},
		{
			name:        "built-in blocklist",
			post:        PostContent{Links: []string{"https://grabify.link/ABC123"}},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"blocked domain: grabify.link"},
		},
		{
			name:        "userinfo does not hide the real host",
			post:        PostContent{Links: []string{"https://acme.example@bit.ly/x"}},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"link hides its host behind user info: bit.ly", "link shortener: bit.ly"},
		},
		{
			name:        "malformed link",
			post:        PostContent{Links: []string{"http://%zz"}},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"malformed link: http://%zz"},
		},
		{
			name:        "reasons in stable order, weights adding up to a block",
			post:        PostContent{Content: "Buy now https://bit.ly/x", Links: []string{"http://10.0.0.1/"}},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"spam phrase: 'buy now'", "IP address link: 10.0.0.1", "link shortener: bit.ly"},
		},
	}
	for _, tt := range tests {
		got := moderate(tt.post, tt.blocked)
		if got.Status != tt.wantStatus || !slices.Equal(got.Reasons, tt.wantReasons) {
			t.Errorf("%s: ModeratePost = %+v, want status %q reasons %q", tt.name, got, tt.wantStatus, tt.wantReasons)
		}
		if got.Flagged() != (tt.wantStatus != StatusApproved) {
			t.Errorf("%s: Flagged() = %v with status %q", tt.name, got.Flagged(), got.Status)
		}
		for _, r := range got.Reasons {
			if len(tt.post.Content) > 30 && strings.Contains(r, tt.post.Content) {
				t.Errorf("%s: reason %q quotes the whole content", tt.name, r)
			}
		}
		if again := moderate(tt.post, tt.blocked); !slices.Equal(again.Reasons, got.Reasons) || again.Score != got.Score {
			t.Errorf("%s: verdict not stable: %+v then %+v", tt.name, got, again)
		}
	}
}

func TestModeratePostScore(t *testing.T) {
	got := moderate(PostContent{Content: "Gagnez de l'argent facile, cliquez ici !!!!!!!"}, nil)
	if want := 4 + 4 + 3 + weightRepeatedPunct; got.Score != want {
		t.Errorf("Score = %d, want %d", got.Score, want)
	}
	if got := moderate(PostContent{Content: "https://bit.ly/a and https://bit.ly/b"}, nil); got.Score != weightShortener {
		t.Errorf("one shortener twice: Score = %d, want %d", got.Score, weightShortener)
	}
	if got := moderate(PostContent{}, nil); got.Score != 0 || got.Status != StatusApproved || got.Reasons != nil {
		t.Errorf("empty post: %+v, want approved with score 0 and no reasons", got)
	}
}

// embeddedList parses one embedded list file.
func embeddedList(t *testing.T, name string) WordLists {
	t.Helper()
	var lists WordLists
	if err := lists.readFile(builtinWordListFiles, "wordlists/"+name); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return lists
}

func TestEverySpamPhraseFlags(t *testing.T) {
	for _, name := range []string{"spam_en.txt", "spam_fr.txt"} {
		if n := len(embeddedList(t, name).Spam); n < 25 {
			t.Errorf("%s: %d phrases, want at least 25", name, n)
		}
	}
	for _, sp := range BuiltinWordLists().Spam {
		got := moderate(PostContent{Content: "Hello! " + sp.Phrase + "."}, nil)
		if hint := sp.Weight < FlagThreshold; got.Flagged() == hint {
			t.Errorf("spam phrase %q (weight %d) alone: %+v, want flagged only from weight %d", sp.Phrase, sp.Weight, got, FlagThreshold)
		}
		if got := moderate(PostContent{Content: "Hello! " + sp.Phrase + "!!!"}, nil); !got.Flagged() {
			t.Errorf("spam phrase %q with repeated punctuation: %+v, want flagged", sp.Phrase, got)
		}
	}
}

func TestEveryHateTermBlocks(t *testing.T) {
	for _, name := range []string{"hate_en.txt", "hate_fr.txt"} {
		if n := len(embeddedList(t, name).Hate); n < 40 {
			t.Errorf("%s: %d terms, want at least 40", name, n)
		}
	}
	reasons := map[string]string{}
	for _, h := range hateTermReasons {
		reasons[h.category] = h.reason
	}
	for _, term := range BuiltinWordLists().Hate {
		got := moderate(PostContent{Content: "Well, " + strings.ToUpper(term.keys[0]) + "!"}, nil)
		if got.Status != StatusBlocked || !slices.Contains(got.Reasons, reasons[term.Category]) {
			t.Errorf("hate term %q: %+v, want blocked", term.keys[0], got)
		}
	}
}

// labelledPost is one post of the labelled corpus: bad posts must be
// flagged or blocked, clean ones approved.
type labelledPost struct {
	text    string
	links   []string
	bad     bool
	evasion bool // bad, and no list phrase is in its text as written
}

// labelledCorpus holds real-looking newsfeed posts of a job board, in
// English and French. The bad ones include evasions whose spelling is in no
// word list (leetspeak, spacing, accents, zero-width and bidi characters,
// full-width, mathematical, superscript and Cyrillic letters): only the
// normaliser can catch them. "fr ee mo ney" is a known miss: letters spelt
// out in pairs are not folded.
var labelledCorpus = []labelledPost{
	// Clean: recruiting, salaries, urgency, company links, everyday talk.
	{text: "We're hiring a Senior Go developer in Paris! Salary 60-70k€, hybrid. Apply at https://acme.example/careers"},
	{text: "URGENT: we need a React Native freelancer for 3 months, start Monday. DM me your portfolio."},
	{text: "Nous recrutons un(e) développeur(se) Python confirmé(e) à Lyon. Salaire 45-55k€ selon profil."},
	{text: "Urgent ! Cherche infirmier(e) de nuit, CDI, 2 400 € net/mois. Appelez le 04 78 12 34 56."},
	{text: "Call us on +33 1 23 45 67 89 to discuss the Data Engineer role. Salary up to 80k."},
	{text: "Our team just shipped v2 of the API 🎉 Thanks everyone who helped! https://blog.acme.example/v2"},
	{text: "Looking for my next challenge as a DevOps engineer (Kubernetes, Terraform, AWS). Open to remote."},
	{text: "Je suis à la recherche d'une alternance en marketing digital pour septembre. Merci pour vos partages !"},
	{text: "Free coffee and croissants at our open day on Friday, come meet the team at 10 rue de la Paix."},
	{text: "Salaire annuel brut : 38 000 €. Tickets restaurant, mutuelle, 2 jours de télétravail par semaine."},
	{text: "Tip for juniors: build projects, write about them, and ask for feedback. It works!!"},
	{text: "Hiring now: 5 warehouse operators, €14/hour, night shift bonus. Apply: https://jobs.logistics.example/apply?id=42"},
	{text: "We offer a competitive salary, stock options and a 4-day week. Urgent start preferred."},
	{text: "Stage de fin d'études – Data Analyst (SQL, Power BI) – Nantes – gratification légale."},
	{text: "Congrats to Marie on her promotion to Head of Engineering! So proud of this team."},
	{text: "Webinar tomorrow: how we cut our cloud bill by 40%. Register: https://events.acme.example/cloud"},
	{text: "Offre d'emploi : comptable H/F, CDI, 35h, Bordeaux. Envoyez votre CV à rh@cabinet-dupont.fr"},
	{text: "Who else is going to VivaTech this year? Let's meet at our booth B42."},
	{text: "Recrutement urgent : 10 préparateurs de commandes, salaire 1 900 € brut, prime d'équipe."},
	{text: "Reminder: applications for the graduate programme close on 30 June. Details: www.acme.example/graduates"},
	{text: "Kill all zombie processes before the deploy, and double check the cron jobs."},
	{text: "Nos bureaux à Montréal déménagent ! Nouvelle adresse au 1200 boulevard Saint-Laurent."},
	{text: "JavaScript: 5 years. TypeScript: 3 years. Looking for a full-stack role in Berlin."},
	{text: "We are raising our entry salary to $55,000 and adding a $2,000 signing bonus."},
	{text: "Merci à tous pour vos messages ! Je rejoins l'équipe de Doctolib en tant que Product Manager."},
	{text: "Quick poll: do you prefer remote, hybrid or office? Comment below 👇"},
	{text: "Earn your AWS certification with our free study group every Thursday evening."},
	{text: "Formation gratuite pour les demandeurs d'emploi : développeur web en 6 mois, inscriptions ouvertes."},
	{text: "CDD de 6 mois, possibilité de CDI. Poste basé à Lille, déplacements ponctuels à Paris."},
	{text: "Our recruiter Paul is at the job fair today, come say hi! Booth 12, hall A."},
	{text: "ATTENTION: the office is closed on Monday for the bank holiday."},
	{text: "Senior Rust engineer wanted. Salary 90-110k, equity. Apply on https://careers.oxide.example or https://acme.example/jobs/rust"},
	{text: "Passionné par l'IA ? Rejoignez notre équipe R&D à Grenoble, salaire attractif."},
	{text: "Bonjour, je cherche un job étudiant le week-end, disponible dès maintenant. Contact : 06 12 34 56 78"},
	{links: []string{"https://www.welcometothejungle.com/fr/companies/acme/jobs"}, text: "Toutes nos offres sont ici"},
	{text: "Investissement : nous levons 5 M€ pour recruter 30 personnes. Contact presse : 01 23 45 67 89"},
	{text: "Free parking, free lunch and a free gym membership for every employee."},
	{text: "Table ronde jeudi : les femmes dans la tech, avec trois CTO lyonnaises."},
	{text: "Our quarterly profit grew 12%; we are hiring 20 engineers. Questions? +32 2 555 01 23"},
	{text: "🎉🎉🎉 Welcome to our 5 new interns! 🎉🎉🎉"},

	// Bad: spam, scams, hate, and evasions of each.
	{bad: true, text: "Free money for everyone, click here now"},
	{bad: true, text: "Make money fast from your couch, DM me"},
	{bad: true, evasion: true, text: "FR33 M0N3Y!!! Only today"},
	{bad: true, evasion: true, text: "f r e e  m o n e y for the first 100 people"},
	{bad: true, evasion: true, text: "c.l.i.c.k h.e.r.e to claim"},
	{bad: true, evasion: true, text: "fr\u200bee mo\u200cney, just sign up"},
	{bad: true, evasion: true, text: "ｆｒｅｅ ｍｏｎｅｙ waiting for you"},
	{bad: true, evasion: true, text: "frее mоney (Cyrillic letters inside)"},
	{bad: true, text: "Gagnez de l'argent depuis chez vous, sans diplôme"},
	{bad: true, evasion: true, text: "G4GN3Z D3 L'4RG3NT f4c1l3ment"},
	{bad: true, evasion: true, text: "a r g e n t  f a c i l e, écrivez-moi"},
	{bad: true, text: "Devenez riche en 30 jours avec ma méthode"},
	{bad: true, evasion: true, text: "DEVENEZ RÎCHE grâce à la crypto, r3venus pa$$ifs garantis"},
	{bad: true, text: "Send bitcoin to 1BoatSLRHtKNngkdXEeobR76b53LETtpyT and double your money"},
	{bad: true, text: "Invest $100, earn $5000 a week. WhatsApp +44 7911 123456"},
	{bad: true, text: "Investissement crypto rentable, envoyez vos USDT à TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"},
	{bad: true, text: "Earn cash daily, contact me on +1 (555) 010-2030"},
	{bad: true, text: "Work from home and earn 500€ per day!!! Limited time offer"},
	{bad: true, text: "Claim your prize: https://bit.ly/3xYzAbc"},
	{bad: true, text: "Verify your account at https://paypal.com@evil.example/login"},
	{bad: true, text: "New job portal http://0x7f000001/jobs apply quickly"},
	{bad: true, text: "Offres exclusives sur https://xn--pypal-4ve.com/fr"},
	{bad: true, text: "Check this out", links: []string{"javascript:alert(document.cookie)"}},
	{bad: true, text: "See https://grabify.link/ABC123 for the salary grid"},
	{bad: true, text: "Apply https://jobs.example/a https://jobs.example/a https://jobs.example/a https://jobs.example/a"},
	{bad: true, text: "🔥🔥🔥🔥🔥🔥💰💰💰💰 best deal ever 🔥🔥"},
	{bad: true, text: "BUY FOLLOWERS NOW CHEAPEST PRICES!!!!! LIMITED OFFER!!!"},
	{bad: true, text: "We should kill all immigrants"},
	{bad: true, evasion: true, text: "K1LL 4LL J3WS"},
	{bad: true, evasion: true, text: "k i l l  a l l  j e w s"},
	{bad: true, text: "Mort aux juifs"},
	{bad: true, evasion: true, text: "m0rt aux 4rabes"},
	{bad: true, text: "Quelle sale race de ..."},
	{bad: true, text: "heil hitler \u202esieg heil"},
	{bad: true, text: "Ces gens sont des sous-hommes"},
	{bad: true, evasion: true, text: "s\u0301ale ra\u0327ce"},
	{bad: true, text: "Gagnez de l’argent rapidement avec le trading, rendement garanti 30% par mois"},
	{bad: true, text: "Cliquez ici pour recevoir votre cadeau gratuit"},
	{bad: true, evasion: true, text: "Earn 💰 passive 1ncome while you sleep"},
	{bad: true, evasion: true, text: "g.a.g.n.e.z de l'argent sans bouger"},
	{bad: true, text: "FrEe-MoNeY, no strings attached"},
	{bad: true, evasion: true, text: "Fréé mõnéy for students"},
	{bad: true, evasion: true, text: "Cl1ck h3r3 for the job list"},
	{bad: true, evasion: true, text: "ᶠʳᵉᵉ ᵐᵒⁿᵉʸ today only"},
	{bad: true, evasion: true, text: "𝐟𝐫𝐞𝐞 𝐦𝐨𝐧𝐞𝐲 today only"},
	{bad: true, evasion: true, text: "f\u00adree mo\u00adney today"},
	{bad: true, evasion: true, text: "fr ee mo ney, ask me how"},
	{bad: true, text: "Crypto giveaway 🚀 send 0.1 ETH to 0x52908400098527886E0F7030069857D2E4169EE7 and get 1 back"},
}

// TestLabelledCorpus measures precision and recall on labelledCorpus and
// holds them to the bar: no clean post flagged, 90% of bad posts
// caught.
func TestLabelledCorpus(t *testing.T) {
	m := builtinModerator()
	var clean, bad, evasions, evasionsCaught, truePos, falsePos int
	for _, p := range labelledCorpus {
		if p.evasion {
			evasions++
		}
		got := m.Moderate(PostContent{Content: p.text, Links: p.links}, Checks{})
		switch {
		case p.bad && got.Flagged():
			truePos++
			if p.evasion {
				evasionsCaught++
			}
		case p.bad:
			t.Logf("missed bad post %q: %+v", p.text, got)
		case got.Flagged():
			falsePos++
			t.Errorf("clean post flagged %q: %+v", p.text, got)
		}
		if p.bad {
			bad++
		} else {
			clean++
		}
	}
	if len(labelledCorpus) < 60 || clean < 25 || bad < 25 {
		t.Fatalf("corpus: %d posts (%d clean, %d bad), want at least 60 with 25 of each", len(labelledCorpus), clean, bad)
	}
	precision := float64(truePos) / float64(max(truePos+falsePos, 1))
	recall := float64(truePos) / float64(bad)
	t.Logf("labelled corpus: %d posts (%d clean, %d bad, %d of them evasions): precision %.3f, recall %.3f (evasions %d/%d caught), %d clean flagged, %d bad missed",
		len(labelledCorpus), clean, bad, evasions, precision, recall, evasionsCaught, evasions, falsePos, bad-truePos)
	if falsePos > 0 || recall < 0.9 {
		t.Errorf("precision %.3f (%d clean flagged, want 0), recall %.3f (want ≥ 0.90)", precision, falsePos, recall)
	}
}

func TestTextHeuristics(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"emoji flood in a row", "🔥🔥🔥🔥🔥🔥🔥🔥 deal", []string{"emoji flood: 8 emoji"}},
		{"emoji flood spread out", "🚀 a 🚀 b 🚀 c 🚀 d 🚀 e 🚀 f 🚀 g 🚀 h 🚀 i 🚀", []string{"emoji flood: 10 emoji"}},
		{"a few emoji", "Congrats 🎉🎉🎉 team 👏👏", nil},
		{"emoji joined with ZWJ count as a run", "👨\u200d💻👨\u200d💻👨\u200d💻👨\u200d💻", []string{"emoji flood: 8 emoji"}},
		{"repeated punctuation mixed", "Really?!? yes", []string{"repeated punctuation"}},
		{"two marks are fine", "Hired!! Thanks?!", nil},
		{"stretched word", "sooooo good", []string{"repeated characters"}},
		{"dots and dashes are layout", "Menu ........ 12€ ------", nil},
		{"phone with money talk", "Earn big, call +44 7911 123456", []string{"phone number with money talk"}},
		{"French phone with money talk", "Gagnez vite : 06.12.34.56.78", []string{"phone number with money talk"}},
		{"phone without money talk", "Call HR at +44 7911 123456, salary 50k", nil},
		{"known trade-off: a referral bonus with a phone is flagged for review", "Earn a 500 € referral bonus, call 06 12 34 56 78", []string{"phone number with money talk"}},
		{"Bitcoin wallet with money talk", "Send BTC to bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", []string{"crypto wallet address with money talk"}},
		{"Ethereum wallet with money talk", "crypto: 0x52908400098527886E0F7030069857D2E4169EE7", []string{"crypto wallet address with money talk"}},
		{"wallet-like hash without money talk", "commit 0x52908400098527886E0F7030069857D2E4169EE7 fixed it", nil},
	}
	for _, tt := range tests {
		if got := moderate(PostContent{Content: tt.content}, nil); !slices.Equal(got.Reasons, tt.want) {
			t.Errorf("%s: reasons %q, want %q", tt.name, got.Reasons, tt.want)
		}
	}
}

func TestRepeatedLink(t *testing.T) {
	link := "https://jobs.example/a"
	three := moderate(PostContent{Content: strings.Repeat(link+" ", 3)}, nil)
	if three.Status != StatusFlagged || !slices.Equal(three.Reasons, []string{"same link repeated 3 times: " + link}) {
		t.Errorf("three times: %+v", three)
	}
	mirrored := moderate(PostContent{Content: link + " and again " + link, Links: []string{link, link}}, nil)
	if mirrored.Flagged() {
		t.Errorf("twice in content, mirrored in links: %+v, want approved", mirrored)
	}
}

func TestParseWordLists(t *testing.T) {
	spam, err := ParseSpamList(strings.NewReader("# comment\n\n  5 Double   your MONEY \n3\tfr-ee\n"))
	if err != nil || len(spam) != 2 || spam[0].Phrase != "Double   your MONEY" || spam[0].Weight != 5 || !slices.Equal(spam[0].keys, []string{"double your money", "doubleyourmoney"}) {
		t.Errorf("ParseSpamList = %+v, %v", spam, err)
	}
	hate, err := ParseHateList(strings.NewReader("slur foo\nincitement burn the\nincitement ban\ntarget bars\ntarget cafés\n"))
	var keys []string
	for _, h := range hate {
		keys = append(keys, h.Category+":"+h.keys[0])
	}
	want := []string{"slur:foo", "incitement:burn the bars", "incitement:burn the cafes", "incitement:ban bars", "incitement:ban cafes"}
	if err != nil || !slices.Equal(keys, want) {
		t.Errorf("ParseHateList = %q, %v; want %q", keys, err, want)
	}
	for name, bad := range map[string]struct {
		parse func(string) error
		text  string
	}{
		"weight not a number":   {spamParse, "lots free money"},
		"weight zero":           {spamParse, "0 free money"},
		"no phrase":             {spamParse, "4"},
		"phrase of punctuation": {spamParse, "4 !!!"},
		"unknown category":      {hateParse, "rude word"},
		"incitement, no target": {hateParse, "incitement kill all"},
		"target, no incitement": {hateParse, "target people"},
		"error names its line":  {spamParse, "4 ok\n# c\nx bad"},
	} {
		err := bad.parse(bad.text)
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if name == "error names its line" && !strings.Contains(err.Error(), "line 3") {
			t.Errorf("%s: %v, want line 3", name, err)
		}
	}
}

func spamParse(s string) error { _, err := ParseSpamList(strings.NewReader(s)); return err }
func hateParse(s string) error { _, err := ParseHateList(strings.NewReader(s)); return err }

func TestLoadWordListsFromDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "spam_jobs.txt", "# extra spam\n6 pay to apply\n")
	writeFile(t, dir, "hate_extra.txt", "slur zorglub\n")
	lists, err := LoadWordLists(dir)
	if err != nil {
		t.Fatalf("LoadWordLists: %v", err)
	}
	builtin := BuiltinWordLists()
	if len(lists.Spam) != len(builtin.Spam)+1 || len(lists.Hate) != len(builtin.Hate)+1 {
		t.Errorf("lists: %d spam, %d hate; want built-in + 1 each", len(lists.Spam), len(lists.Hate))
	}
	m := NewModerator(lists, nil)
	if got := m.Moderate(PostContent{Content: "P4Y T0 4PPLY for this job"}, Checks{}); got.Status != StatusFlagged || got.Reasons[0] != "spam phrase: 'pay to apply'" {
		t.Errorf("extra spam phrase: %+v", got)
	}
	if got := m.Moderate(PostContent{Content: "you zorglub"}, Checks{}); got.Status != StatusBlocked {
		t.Errorf("extra hate term: %+v", got)
	}
	if got := m.Moderate(PostContent{Content: "Free money"}, Checks{}); !got.Flagged() {
		t.Errorf("built-in phrase lost: %+v", got)
	}
}

func TestLoadWordListsErrors(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"bad line":          {"spam_x.txt": "4 fine\nnope\n"},
		"unknown list name": {"words.txt": "4 free money\n"},
		"no list":           {"README.md": "hello"},
	} {
		dir := t.TempDir()
		for f, text := range files {
			writeFile(t, dir, f, text)
		}
		if _, err := LoadWordLists(dir); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: err = %v, want one naming %s", name, err, dir)
		}
	}
	if _, err := LoadWordLists(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing directory: no error")
	}
}

// A bad MODERATION_WORDLIST_DIR stops hookd at start.
func TestOpenAppRefusesBadWordLists(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "spam_x.txt", "zero free money\n")
	cfg, err := LoadConfig(testEnv(t, map[string]string{"MODERATION_WORDLIST_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if app, err := OpenApp(context.Background(), cfg, testLogger()); err == nil {
		app.Close()
		t.Fatal("OpenApp accepted a malformed word list")
	} else if !strings.Contains(err.Error(), "spam_x.txt") || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("error %q should name the file and line", err)
	}
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzModerate: moderation never panics on any post, is deterministic, and
// always answers one of the three statuses, with reasons for any status but
// approved.
func FuzzModerate(f *testing.F) {
	f.Add("Free money!!! click here", "https://bit.ly/x", "https://cdn.example/a.jpg", "LIKELY")
	f.Add("k i l l  a l l  j e w s", "javascript:alert(1)", "http://127.0.0.1/a.png", "VERY_LIKELY")
	f.Add("🔥🔥🔥🔥🔥🔥🔥🔥 +44 7911 123456 earn", "http://0x7f000001/", "https://localhost/", "bogus")
	f.Add("\u202e\u200b\xff", "https://paypal.com@evil.example/", "", "")
	m := NewModerator(BuiltinWordLists(), []string{"evil.example"})
	f.Fuzz(func(t *testing.T, content, link, image, likelihood string) {
		post := PostContent{Content: content, Links: []string{link}, Images: []string{image}}
		report := Checks{Images: ImageReport{Enabled: true, Verdicts: []ImageVerdict{{URL: image, Adult: likelihood, Racy: likelihood}}}}
		got := m.Moderate(post, report)
		if again := m.Moderate(post, report); !slices.Equal(got.Reasons, again.Reasons) || got.Status != again.Status {
			t.Fatalf("not deterministic: %+v then %+v", got, again)
		}
		if !slices.Contains([]string{StatusApproved, StatusFlagged, StatusBlocked}, got.Status) || (got.Flagged() && len(got.Reasons) == 0) {
			t.Fatalf("verdict %+v", got)
		}
	})
}

// TestEvasionsNeedTheNormaliser keeps the corpus honest: its evasion posts
// hold no list phrase as written (lowercased, as a naive filter would
// read them), so catching them is the normaliser's doing.
func TestEvasionsNeedTheNormaliser(t *testing.T) {
	lists := BuiltinWordLists()
	evasions := 0
	for _, p := range labelledCorpus {
		if !p.evasion {
			continue
		}
		evasions++
		text := strings.ToLower(p.text)
		for _, sp := range lists.Spam {
			if containsWord(text, strings.ToLower(sp.Phrase)) {
				t.Errorf("evasion %q holds the spam phrase %q as written", p.text, sp.Phrase)
			}
		}
		for _, h := range lists.Hate {
			if containsWord(text, h.keys[0]) {
				t.Errorf("evasion %q holds the hate term %q as written", p.text, h.keys[0])
			}
		}
	}
	if evasions < 15 {
		t.Errorf("%d evasion posts, want at least 15", evasions)
	}
}

// BenchmarkModerate times the decision on a typical clean bilingual post
// with a link, without Vision.
func BenchmarkModerate(b *testing.B) {
	m := builtinModerator()
	p := PostContent{Content: "We're hiring a Senior Go developer in Paris! Salary 60-70k€, hybrid. Apply at https://acme.example/careers. " +
		"Nous recrutons un(e) développeur(se) Python confirmé(e) à Lyon. Salaire 45-55k€ selon profil."}
	for b.Loop() {
		m.Moderate(p, Checks{})
	}
}
